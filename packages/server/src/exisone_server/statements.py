"""What a batch of Core statements runs on: a session's connection, or SQLite's driver
connection with the statements compiled once (:mod:`.compiled_statements`).

The lease batches (:mod:`.licenses.leases`) are written against :class:`Statements`, so the
same code, and the same statements, serve both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

__all__ = ["NeedsSession", "Parameters", "SessionStatements", "Statements"]

#: One statement's parameters, or a list of them (run once each: an executemany).
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class NeedsSession(RuntimeError):
    """Work that needs the ORM (a key to read or make) came up where there is no session: the
    caller rolls back and runs the batch again with one."""


class Statements(Protocol):
    """Runs Core statements in the caller's write transaction."""

    #: The ORM session the statements run in, if any.
    session: AsyncSession | None

    async def rows(self, statement: Select[Any], parameters: Mapping[str, Any]) -> list[Any]:
        """The SELECT's rows (attributes by column key, or unpacked in column order)."""
        ...

    async def run(self, statement: ClauseElement, parameters: Parameters) -> int:
        """Run an INSERT, UPDATE or DELETE; the rows it changed (all runs together)."""
        ...


class SessionStatements:
    """:class:`Statements` on the connection of an ORM session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session: AsyncSession | None = session
        self._session = session

    async def rows(self, statement: Select[Any], parameters: Mapping[str, Any]) -> list[Any]:
        connection = await self._session.connection()
        return list((await connection.execute(statement, dict(parameters))).all())

    async def run(self, statement: ClauseElement, parameters: Parameters) -> int:
        connection = await self._session.connection()
        many = list(parameters) if isinstance(parameters, Sequence) else None
        if many is not None and not many:
            return 0
        done = await connection.execute(
            statement,  # type: ignore[call-overload]
            [dict(p) for p in many] if many is not None else dict(parameters),  # type: ignore[arg-type]
        )
        return int(done.rowcount)
