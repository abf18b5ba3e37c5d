"""Declarative base with a naming convention (SQLite batch migrations need named constraints)."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any, ClassVar, cast

from sqlalchemy import DateTime, Dialect, Enum, Integer, MetaData, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..kit.time import utc_now

__all__ = ["Model", "UTCDateTime", "table_of", "text_enum"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (naive text) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Model(DeclarativeBase):
    """Base of every table: an integer primary key ``id`` and a ``created_at`` timestamp."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-10)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


def table_of(model: type[Model]) -> Table:
    """The table of a model, for Core statements (a model's ``__table__`` is typed as any
    ``FromClause``)."""
    return cast(Table, model.__table__)


def text_enum(kind: type[enum.StrEnum], *, length: int = 20) -> Enum:
    """A column type storing ``kind``'s values as text (no database enum type, so adding a
    value needs no migration)."""
    return Enum(
        kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )
