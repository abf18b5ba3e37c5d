"""Per-table row counts and checksums that compare across SQLite and PostgreSQL.

Rows are read through the models' column types (so a time is an aware UTC datetime on both
databases), ordered by primary key, each encoded as canonical JSON and fed to SHA-256: two
databases holding the same rows give the same checksum, whatever their engine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

__all__ = ["TableSum", "table_sum"]


@dataclass(frozen=True)
class TableSum:
    """A table's row count and checksum (hex SHA-256)."""

    table: str
    rows: int
    checksum: str


def _plain(value: Any) -> Any:
    """A JSON-encodable form of a column value that does not depend on the database."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return repr(value)
    return value


def table_sum(connection: Connection, table: Table) -> TableSum:
    """The row count and checksum of ``table`` on ``connection``."""
    digest = hashlib.sha256()
    order = list(table.primary_key.columns) or list(table.columns)
    rows = 0
    result = connection.execution_options(yield_per=1000).execute(
        select(*table.columns).order_by(*order)
    )
    for row in result:
        encoded = json.dumps([_plain(value) for value in row], sort_keys=True, default=str)
        digest.update(encoded.encode() + b"\n")
        rows += 1
    counted = connection.execute(select(func.count()).select_from(table)).scalar_one()
    if counted != rows:  # rows were written while reading: the checksum means nothing
        raise RuntimeError(f"{table.name} changed while it was read")
    return TableSum(table.name, rows, digest.hexdigest())
