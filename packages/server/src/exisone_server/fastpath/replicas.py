"""Validate's reads on streaming replicas (``EXISONE_DATABASE_REPLICA_URLS``), read-your-writes.

A replica lags its primary by the time its WAL takes to arrive (milliseconds on a LAN), so a
read there may miss what a client has just written (an activation, a new token). Validate
reads a replica first (in turn, when there are several) and keeps only an answer that settles
the request: a known token and a key licensed on this device. Anything else — a miss, a
refusal, a replica that does not answer — is read again on the primary before answering, so a
validation right after an activation sees it. What a replica can still show for its lag is a
license revoked or suspended a moment ago as licensed.

A replica that fails is left alone for :data:`REPLICA_REST_SECONDS` (its reads go to the
primary), so a replica that is down costs one failed read per process, not one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg

from ..db import Database
from .reader import OnlineKeyRow, PostgresReader, TokenRow, fast_reader, libpq_url

__all__ = ["REPLICA_REST_SECONDS", "ReplicaReaders", "read_validation", "replica_readers"]

logger = logging.getLogger("exisone_server")

#: Seconds a replica that failed a read is not asked again.
REPLICA_REST_SECONDS = 5.0

_Read = tuple[TokenRow | None, list[OnlineKeyRow]]
_ATTRIBUTE = "_exisone_replica_readers"


class ReplicaReaders:
    """One :class:`~.reader.PostgresReader` per replica, asked in turn."""

    def __init__(
        self,
        urls: tuple[str, ...],
        connect_args: dict[str, object],
        connect_timeout_seconds: float | None = None,
    ) -> None:
        self._readers = [
            PostgresReader(libpq_url(url), dict(connect_args), connect_timeout_seconds)
            for url in urls
        ]
        self._resting_until = [0.0] * len(urls)
        self._turn = 0
        #: Validations a replica settled, and those read again on the primary (tests, stats).
        self.settled = 0
        self.fell_back = 0

    async def token_and_online_key(
        self, public_id: str, activation_key: str, hardware_id: str
    ) -> _Read | None:
        """The rows from the next replica that is not resting; None if none answered."""
        now = time.monotonic()
        for _ in range(len(self._readers)):
            index = self._turn % len(self._readers)
            self._turn += 1
            if self._resting_until[index] > now:
                continue
            try:
                return await self._readers[index].token_and_online_key(
                    public_id, activation_key, hardware_id
                )
            except psycopg.Error as exc:
                self._resting_until[index] = time.monotonic() + REPLICA_REST_SECONDS
                logger.warning(
                    "replica %d failed a read (%s); the primary answers for %.0f s",
                    index + 1,
                    type(exc).__name__,
                    REPLICA_REST_SECONDS,
                )
        return None

    async def close(self) -> None:
        for reader in self._readers:
            await reader.close()


def replica_readers(database: Database) -> ReplicaReaders | None:
    """The database's replica readers (made on first use); None without replicas."""
    if not database.replica_urls:
        return None
    readers: ReplicaReaders | None = database.__dict__.get(_ATTRIBUTE)
    if readers is None:
        readers = ReplicaReaders(
            database.replica_urls, database.connect_args, database.connect_timeout_seconds
        )
        setattr(database, _ATTRIBUTE, readers)
        database.on_dispose(readers.close)
    return readers


async def read_validation(
    database: Database,
    public_id: str,
    activation_key: str,
    hardware_id: str,
    settles: Callable[[TokenRow | None, list[OnlineKeyRow]], bool],
) -> _Read:
    """Validate's token and key rows: from a replica when ``settles`` accepts them, else from
    the primary."""
    replicas = replica_readers(database)
    if replicas is not None:
        read = await replicas.token_and_online_key(public_id, activation_key, hardware_id)
        if read is not None and settles(*read):
            replicas.settled += 1
            return read
        replicas.fell_back += 1
    return await fast_reader(database).token_and_online_key(public_id, activation_key, hardware_id)
