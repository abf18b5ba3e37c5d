"""Validations answered per tenant and day (the dashboard's chart), added up by every process."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["ValidationCount"]


class ValidationCount(Model):
    """``count`` validation requests of ``tenant_id``'s clients answered on ``day`` (UTC).

    Written by :mod:`exisone_server.licenses.validation_stats` in batches, not per request.
    """

    __tablename__ = "validation_counts"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
