"""Lease heartbeats of one process renewed together: each answered after its batch committed.

Every heartbeat of a floating lease is a write (its new expiry) under the license's lock. One
transaction each made a heartbeat cost four statements, a savepoint or a commit, and on
PostgreSQL a wait for the license row held by the heartbeat before it. So each process keeps
one :class:`HeartbeatBatcher` per database (:class:`..kit.batcher.Batcher`): the heartbeats
that arrive while a batch is being written are renewed by the next one, with
:func:`.leases.renew_leases` (a few statements however many heartbeats) in one write
transaction. The lease tokens are signed by each request afterwards, outside the transaction.
A batch in which a lease was released meanwhile (:class:`.leases.StaleRenewal`) or that
PostgreSQL chose to break a deadlock of runs again.

The batches of a process run one after the other: a license held locked by a long transaction
(a publisher's bulk change, say) delays the next batch, and so every heartbeat of that process
behind it, until the lock is released or the statement timeout ends the wait.
"""

from __future__ import annotations

from ..crypto.master_key import MasterKey
from ..db import Database
from ..errors import deadlocked
from ..kit.attached import attached
from ..kit.batcher import Batcher, retried
from .leases import Heartbeat, LeaseRenewal, StaleRenewal, renew_leases

__all__ = ["MAX_BATCH", "HeartbeatBatcher", "heartbeat_batcher"]

#: Most heartbeats one transaction holds (the others wait for the next).
MAX_BATCH = 256


class HeartbeatBatcher:
    """The heartbeats of one process, database and master key (see the module docstring)."""

    def __init__(self, database: Database, master_key: MasterKey) -> None:
        self._database = database
        self._master_key = master_key
        self._batches: Batcher[Heartbeat, LeaseRenewal] = Batcher(
            self._write, max_batch=MAX_BATCH, name="exisone-heartbeats"
        )

    @property
    def batches(self) -> int:
        """Batches committed so far (tests, statistics)."""
        return self._batches.batches

    async def renew(self, tenant_id: int, lease_id: str) -> LeaseRenewal:
        """Renew the tenant's lease ``lease_id`` in the next batch."""
        return await self._batches.submit(Heartbeat(tenant_id, lease_id))

    async def _write(self, heartbeats: list[Heartbeat]) -> list[LeaseRenewal]:
        return await retried(lambda: self._write_once(heartbeats), again=_again)

    async def _write_once(self, heartbeats: list[Heartbeat]) -> list[LeaseRenewal]:
        async with self._database.write() as session:
            return await renew_leases(session, heartbeats, self._master_key)


def _again(error: Exception) -> bool:
    return isinstance(error, StaleRenewal) or deadlocked(error)


def heartbeat_batcher(database: Database, master_key: MasterKey) -> HeartbeatBatcher:
    """The batcher of ``database`` and ``master_key`` in this process (made on first use)."""
    return attached(
        database,
        f"_exisone_heartbeats_{master_key.key_id}",
        lambda _: HeartbeatBatcher(database, master_key),
    )
