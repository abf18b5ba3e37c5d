"""``exisone-server db copy``: every row of one database into another (SQLite to PostgreSQL).

The target is migrated to the head first; the source must be at the head too (same schema).
Tables are copied in the models' dependency order (parents first) in one transaction on the
target; a reference that closes a cycle (``plans.product_id``) is filled in once every table
is copied. Ids are kept as they are: random ids and the ``seq`` insertion counters are plain
columns, and PostgreSQL's own sequences (tables with counted ids) are set past the largest id
copied. Then both sides are read again, table by table, and their row counts and checksums
(:mod:`.checksums`) compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Table,
    bindparam,
    create_engine,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from ..config import Settings, normalize_database_url
from ..migrate import head_revisions, sync_url, upgrade
from ..models import Model
from ..storage import sqlite_path
from .checksums import TableSum, table_sum

__all__ = [
    "CopyError",
    "CopyReport",
    "copy_database",
    "database_sums",
    "late_columns",
    "sync_engine",
    "tables",
]

#: Rows read and inserted at a time.
BATCH_ROWS = 1000


class CopyError(Exception):
    """Why a copy was refused or failed (one line for the command)."""


@dataclass(frozen=True)
class CopyReport:
    """Each table's count and checksum on the source and on the target."""

    source: list[TableSum]
    target: list[TableSum]

    @property
    def matches(self) -> bool:
        return self.source == self.target


@contextmanager
def sync_engine(url: str, *, must_exist: bool = False) -> Iterator[Engine]:
    """A synchronous engine for a database URL as people write it (disposed of after)."""
    normalized = normalize_database_url(url)
    path = sqlite_path(normalized)
    if must_exist and path is not None and not Path(path).is_file():
        raise CopyError(f"no SQLite database at {path}")
    engine = create_engine(sync_url(normalized), hide_parameters=True)
    try:
        yield engine
    finally:
        engine.dispose()


def tables() -> list[Table]:
    """The server's tables, parents before the tables that refer to them."""
    return list(Model.metadata.sorted_tables)


def _revisions(connection: Connection) -> set[str]:
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:
        connection.rollback()
        return set()
    return {str(row[0]) for row in rows}


def _rows_in(connection: Connection) -> dict[str, int]:
    """The tables that hold rows, with their counts."""
    counts = {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in tables()
    }
    return {name: count for name, count in counts.items() if count}


def database_sums(engine: Engine) -> list[TableSum]:
    """Every table's count and checksum."""
    with engine.connect() as connection:
        return [table_sum(connection, table) for table in tables()]


def late_columns(table: Table) -> list[Column[Any]]:
    """The columns of ``table`` that refer to a table copied after it (a cycle's last link)."""
    order = {each.name: position for position, each in enumerate(tables())}
    return [
        column
        for column in table.columns
        if any(
            (fk.constraint is not None and fk.constraint.use_alter)
            or order[fk.column.table.name] >= order[table.name]
            for fk in column.foreign_keys
        )
    ]


def _copy_table(source: Connection, target: Connection, table: Table) -> None:
    """Insert the rows, the :func:`late_columns` left empty (see :func:`_fill_late`)."""
    result = source.execution_options(yield_per=BATCH_ROWS).execute(
        select(*table.columns).order_by(*table.primary_key.columns)
    )
    keys = [column.key for column in table.columns]
    late = {column.key for column in late_columns(table)}
    for batch in result.partitions(BATCH_ROWS):
        rows = [dict(zip(keys, row, strict=True)) for row in batch]
        for row in rows:
            row.update(dict.fromkeys(late))
        target.execute(table.insert(), rows)


def _fill_late(source: Connection, target: Connection, table: Table) -> None:
    late = late_columns(table)
    if not late:
        return
    keys = list(table.primary_key.columns)
    rows = source.execute(
        select(*keys, *late).where(or_(*(column.is_not(None) for column in late)))
    ).all()
    if not rows:
        return
    statement = (
        update(table)
        .where(*(key == bindparam(f"key_{key.key}") for key in keys))
        .values({column.key: bindparam(f"value_{column.key}") for column in late})
    )
    target.execute(
        statement,
        [
            {
                **{f"key_{key.key}": value for key, value in zip(keys, row, strict=False)},
                **{
                    f"value_{column.key}": value
                    for column, value in zip(late, row[len(keys) :], strict=True)
                },
            }
            for row in rows
        ],
    )


def _set_sequences(target: Connection) -> None:
    """PostgreSQL: each id sequence past the largest id (the next insert gets a new one)."""
    for table in tables():
        if "id" not in table.c:
            continue
        sequence = target.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        ).scalar()
        if sequence is None:  # random ids, drawn by the server
            continue
        largest = target.execute(select(func.max(table.c.id))).scalar()
        target.execute(
            text("SELECT setval(:sequence, :value, :called)"),
            {"sequence": sequence, "value": largest or 1, "called": largest is not None},
        )


def _empty(target: Connection) -> None:
    """Remove every row of a PostgreSQL target (TRUNCATE: the audit log refuses DELETE)."""
    if target.dialect.name != "postgresql":
        raise CopyError("--force empties PostgreSQL targets only; remove the SQLite file instead")
    names = ", ".join(target.dialect.identifier_preparer.quote(each.name) for each in tables())
    target.execute(text(f"TRUNCATE TABLE {names}"))


def copy_database(
    source_url: str, target_url: str, *, data_dir: Path, replace: bool = False
) -> CopyReport:
    """Copy every row of ``source_url`` into ``target_url`` and compare the two.

    The target is migrated to the head first. A target that holds rows is refused
    (:class:`CopyError`) unless ``replace`` (PostgreSQL): then its tables are emptied first
    (``TRUNCATE``), in the same transaction as the copy.
    """
    with sync_engine(source_url, must_exist=True) as source:
        with source.connect() as connection:
            if _revisions(connection) != set(head_revisions()):
                raise CopyError(
                    "the source database is not at the migrations' head: run "
                    "`exisone-server --database-url SOURCE migrate` first"
                )
        upgrade(Settings(data_dir=data_dir, database_url=normalize_database_url(target_url)))
        with sync_engine(target_url) as target:
            with source.connect() as reading, target.begin() as writing:
                held = _rows_in(writing)
                if held and not replace:
                    shown = ", ".join(f"{name} ({count})" for name, count in sorted(held.items()))
                    raise CopyError(
                        f"the target database is not empty: {shown}; --force deletes its rows first"
                    )
                if held:
                    _empty(writing)
                for table in tables():
                    _copy_table(reading, writing, table)
                for table in tables():
                    _fill_late(reading, writing, table)
                if target.dialect.name == "postgresql":
                    _set_sequences(writing)
            return CopyReport(database_sums(source), database_sums(target))
