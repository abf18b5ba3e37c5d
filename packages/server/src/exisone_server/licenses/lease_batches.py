"""Lease checkouts and heartbeats of one process written together: each answered after its
batch committed.

Every checkout and every heartbeat of a floating lease is a write under the license's lock.
One transaction each made a heartbeat cost four statements and a checkout eight, each with a
savepoint or a commit, and on PostgreSQL a wait for the license row held by the request before
it. So each process keeps one :class:`LeaseBatches` per database and master key
(:class:`..kit.batcher.Batcher`): the checkouts that arrive while a batch of checkouts is being
written go in the next one, and so do heartbeats, with :func:`.leases.check_out_many` and
:func:`.leases.renew_leases` (a few statements however many requests) in one write transaction
each. The lease tokens are signed by each request afterwards, outside the transaction. A batch
in which a lease was released meanwhile (:class:`.leases.StaleRenewal`) or that PostgreSQL
chose to break a deadlock of runs again.

The batches of a process run one after the other: a license held locked by a long transaction
(a publisher's bulk change, say) delays the next batch, and so every request of that process
behind it, until the lock is released or the statement timeout ends the wait; a batch that
fails (the timeout, the database gone) fails each of its requests, and none of them was
applied. A request whose caller went away stays in a batch already being written: its lease
holds a seat until it runs out, as a client that died would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ..crypto.master_key import MasterKey
from ..db import Database
from ..errors import deadlocked
from ..kit.attached import attached
from ..kit.batcher import Batcher, retried
from ..statements import NeedsSession, SessionStatements, Statements
from .lease_keys import LeaseKeys
from .leases import (
    Checkout,
    Heartbeat,
    LeaseOutcome,
    StaleRenewal,
    check_out_many,
    renew_leases,
)

__all__ = ["MAX_BATCH", "LeaseBatches", "lease_batches"]

#: Most checkouts, or heartbeats, one transaction holds (the others wait for the next).
MAX_BATCH = 256

Call = TypeVar("Call")
Write = Callable[[Statements, Sequence[Call], LeaseKeys], Awaitable[list[LeaseOutcome]]]


class LeaseBatches:
    """The checkouts and heartbeats of one process, database and master key (see the module
    docstring)."""

    def __init__(self, database: Database, master_key: MasterKey) -> None:
        self._database = database
        #: The tenants' lease-signing keys this process read (shared by both kinds of batch).
        self.keys = LeaseKeys(master_key)
        self._checkouts: Batcher[Checkout, LeaseOutcome] = Batcher(
            lambda calls: self._write(check_out_many, calls),
            max_batch=MAX_BATCH,
            name="exisone-checkouts",
        )
        self._heartbeats: Batcher[Heartbeat, LeaseOutcome] = Batcher(
            lambda calls: self._write(renew_leases, calls),
            max_batch=MAX_BATCH,
            name="exisone-heartbeats",
        )

    @property
    def batches(self) -> int:
        """Batches committed so far, of checkouts and of heartbeats (tests, statistics)."""
        return self._checkouts.batches + self._heartbeats.batches

    async def check_out(self, checkout: Checkout) -> LeaseOutcome:
        """Check a seat out in the next batch of checkouts."""
        return await self._checkouts.submit(checkout)

    async def renew(self, tenant_id: int, lease_id: str) -> LeaseOutcome:
        """Renew the tenant's lease ``lease_id`` in the next batch of heartbeats."""
        return await self._heartbeats.submit(Heartbeat(tenant_id, lease_id))

    async def _write(self, write: Write[Call], calls: list[Call]) -> list[LeaseOutcome]:
        async def once() -> list[LeaseOutcome]:
            try:
                async with self._database.driver_write() as statements:
                    return await write(statements, calls, self.keys)
            except NeedsSession:
                pass  # rolled back: this batch reads or makes a key, in a session
            async with self._database.write() as session:
                return await write(SessionStatements(session), calls, self.keys)

        return await retried(once, again=_again)


def _again(error: Exception) -> bool:
    return isinstance(error, StaleRenewal) or deadlocked(error)


def lease_batches(database: Database, master_key: MasterKey) -> LeaseBatches:
    """The batches of ``database`` and ``master_key`` in this process (made on first use)."""
    return attached(
        database,
        f"_exisone_lease_batches_{master_key.key_id}",
        lambda _: LeaseBatches(database, master_key),
    )
