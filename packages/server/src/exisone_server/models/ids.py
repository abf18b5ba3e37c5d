"""Random ids for the rows a tenant sees, so no id tells how busy the server (or another
tenant) is.

Ids of these tables are drawn by the application at insert time: uniformly random positive
integers that fit a signed 32-bit int (ExisOne's clients read ids as int32), from
:mod:`secrets`. A drawn id that the table already has is drawn again, checked in the inserting
transaction (SQLite's writers take turns, so two can never pick the same free id; on
PostgreSQL two concurrent transactions would both have to draw the same one of two billion
ids). Rows that existed before keep their ids.

Random ids carry no order, and times are stored to the second, so each of these tables also has
``seq``, an insertion counter that never leaves the server (``max + 1``, read by the INSERT
itself; rows inserted by one multi-row statement may share a value): lists that are "newest
first" sort by it.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

from sqlalchemy import BigInteger, Insert, Integer, Select, Table, bindparam, func, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

from ..db import insert_for

__all__ = [
    "MAX_ID",
    "NextSeq",
    "draw_id",
    "insert_with_random_id",
    "insertion_seq_column",
    "random_id",
    "random_id_column",
]

#: The largest id: 2**31 - 1 (the largest signed 32-bit int).
MAX_ID = 2**31 - 1
#: Draws before giving up (each one collides with probability rows / 2**31).
_ATTEMPTS = 32


def draw_id() -> int:
    """A uniformly random id in 1 .. :data:`MAX_ID` (tests replace it to force collisions)."""
    return secrets.randbelow(MAX_ID) + 1


@functools.cache
def _id_taken(table: Table) -> Select[Any]:
    """``SELECT id ... WHERE id = :candidate``, built once per table (its compiled form is
    then cached by SQLAlchemy, which a statement built per call would key again each time)."""
    return select(table.c.id).where(table.c.id == bindparam("candidate"))


def random_id(context: DefaultExecutionContext) -> int:
    """Column default: a random id that the row's table does not have yet."""
    column: Any = context.current_column
    statement = _id_taken(column.table)
    for _ in range(_ATTEMPTS):
        candidate = draw_id()
        taken = context.connection.execute(statement, {"candidate": candidate}).first()
        if taken is None:
            return candidate
    raise RuntimeError(f"no free id found in {column.table.name} after {_ATTEMPTS} draws")


@functools.cache
def _insert_if_free(table: Table, dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`` of a table, built once per table
    and dialect."""
    return (
        insert_for(dialect)(table)
        .on_conflict_do_nothing(index_elements=[table.c.id])
        .returning(table.c.id)
    )


async def insert_with_random_id(
    connection: AsyncConnection, table: Table, values: dict[str, Any]
) -> int:
    """Insert one row of ``values`` under a random id that the table does not have, drawn again
    while taken; return the id. One statement per draw (the insert skips a taken id) instead
    of :func:`random_id`'s look-up before each insert: for Core inserts on hot paths."""
    statement = _insert_if_free(table, connection.dialect.name)
    for _ in range(_ATTEMPTS):
        candidate = draw_id()
        if (await connection.execute(statement, {**values, "id": candidate})).first():
            return candidate
    raise RuntimeError(f"no free id found in {table.name} after {_ATTEMPTS} draws")


def random_id_column() -> Mapped[int]:
    """The ``id`` primary key of a table whose ids tenants see."""
    return mapped_column(
        Integer, primary_key=True, autoincrement=False, default=random_id, sort_order=-10
    )


class NextSeq(ColumnElement[int]):
    """``seq``'s default: one more than the inserted table's largest ``seq``, a subquery of the
    INSERT itself (no statement of its own before each insert)."""

    inherit_cache = True
    type = BigInteger()


@compiles(NextSeq)
def _next_seq_sql(element: NextSeq, compiler: SQLCompiler, **kw: Any) -> str:
    statement = compiler.statement
    if not isinstance(statement, Insert):
        raise CompileError("NextSeq is the default of an INSERT only")
    table = statement.table
    largest = select(func.coalesce(func.max(table.c.seq), 0) + 1).scalar_subquery()
    return compiler.process(largest, **kw)


def insertion_seq_column() -> Mapped[int | None]:
    """``seq``: the insertion order of a table with random ids (internal, indexed)."""
    return mapped_column(BigInteger, default=NextSeq(), index=True)
