"""Date arithmetic in SQL that means the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..models.base import UTCDateTime

__all__ = ["plus_days"]


class _PlusDays(FunctionElement[datetime]):
    """``moment`` plus ``days`` whole days (NULL days: none); NULL for a NULL moment."""

    type = UTCDateTime()
    inherit_cache = True
    name = "plus_days"


@compiles(_PlusDays, "postgresql")
def _postgresql(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    moment, days = list(element.clauses)
    return (
        f"({compiler.process(moment, **kw)} + "
        f"make_interval(days => coalesce({compiler.process(days, **kw)}, 0)))"
    )


@compiles(_PlusDays, "sqlite")
def _sqlite(element: _PlusDays, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC text "YYYY-MM-DD HH:MM:SS.ffffff": shift the whole seconds, keep the
    # fraction as written (strftime would round it to milliseconds), so the text compares
    # exactly with the stored and bound timestamps.
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', substr({moment}, 1, 19), "
        f"'+' || coalesce({days}, 0) || ' days') || substr({moment}, 20))"
    )


def plus_days(moment: Any, days: Any) -> ColumnElement[datetime]:
    """SQL: the timestamp ``moment`` plus ``days`` days (both SQL expressions)."""
    return _PlusDays(moment, days)
