"""Rows for every table of the server, made from the models' metadata (so a new table gets
rows too): three per table, parents first, each column given a value of its type (times with
microseconds, bytes with NUL and 0xFF, JSON, enums, nulls where a column allows them), ids
given explicitly (random ids near the int32 limit, counted ids after the largest)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Engine,
    Enum,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    func,
    select,
    update,
)

from exisone_server.dbtools.copy import late_columns
from exisone_server.models import Model
from exisone_server.models.base import UTCDateTime

__all__ = ["ROWS_PER_TABLE", "fill_every_table"]

ROWS_PER_TABLE = 3
_BASE_TIME = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)


def _value(table: Table, column: Column[Any], index: int) -> Any:
    kind = column.type
    if column.nullable and not column.primary_key and index == ROWS_PER_TABLE - 1:
        return None
    if isinstance(kind, Enum):
        choices = list(kind.enum_class) if kind.enum_class else list(kind.enums)
        return choices[index % len(choices)]
    if isinstance(kind, Boolean):
        return index % 2 == 0
    if isinstance(kind, UTCDateTime):
        return _BASE_TIME + timedelta(days=index, microseconds=index)
    if isinstance(kind, Date):
        return date(2026, 1, 1) + timedelta(days=index)
    if isinstance(kind, JSON):
        return {"n": index, "list": [1, "two", None], "text": f"ü{index}"}
    if isinstance(kind, LargeBinary):
        return bytes([index, 0, 255]) * 8
    if isinstance(kind, Numeric):
        return Decimal(f"{index + 1}.25")
    if isinstance(kind, Integer | BigInteger):
        return 1000 + index * 7
    if isinstance(kind, String | Text):
        text = f"{index}-{table.name}.{column.name}-é"
        length = getattr(kind, "length", None)
        return text[:length] if length else text
    raise TypeError(f"no sample value for {table.name}.{column.name} ({kind!r})")


def _id(table: Table, index: int, largest: int) -> int:
    random_ids = table.c.id.autoincrement is False
    return 2_147_000_000 + index * 1_111 if random_ids else largest + index + 1


def fill_every_table(engine: Engine) -> dict[str, int]:
    """Add :data:`ROWS_PER_TABLE` rows to every table; the row count of each table after."""
    chosen: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        for table in Model.metadata.sorted_tables:
            rows = []
            late = set(late_columns(table))
            largest = (
                connection.execute(select(func.max(table.c.id))).scalar() or 0
                if "id" in table.c
                else 0
            )
            for index in range(ROWS_PER_TABLE):
                row: dict[str, Any] = {}
                for column in table.columns:
                    foreign = next(iter(column.foreign_keys), None)
                    if column in late:
                        row[column.key] = None  # its table has no rows yet: set below
                    elif foreign is not None:
                        parents = chosen[foreign.column.table.name]
                        row[column.key] = parents[index % len(parents)][foreign.column.key]
                    elif column.name == "id" and column.primary_key:
                        row[column.key] = _id(table, index, largest)
                    else:
                        row[column.key] = _value(table, column, index)
                rows.append(row)
            connection.execute(table.insert(), rows)
            chosen[table.name] = rows
        for table in Model.metadata.sorted_tables:
            for column in late_columns(table):
                (foreign,) = column.foreign_keys
                parents = chosen[foreign.column.table.name]
                for index, row in enumerate(chosen[table.name][:-1]):  # the last stays null
                    connection.execute(
                        update(table)
                        .where(table.c.id == row["id"])
                        .values({column.key: parents[index][foreign.column.key]})
                    )
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Model.metadata.sorted_tables
        }
