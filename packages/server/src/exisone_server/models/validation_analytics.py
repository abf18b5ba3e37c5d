"""Validations per tenant, day, product, client version and country (the analytics page)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["ValidationAnalytics"]


class ValidationAnalytics(Model):
    """``count`` validations of ``tenant_id``'s clients on ``day`` (UTC) that named
    ``product_name`` and sent ``version``, from ``country`` (ISO 3166 alpha-2).

    "" stands for "not sent" (product, version) and "not known" (country: no GeoIP database
    configured, or an address it does not hold). Written in batches by
    :mod:`exisone_server.analytics.counting`, never per request.
    """

    __tablename__ = "validation_analytics"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "day", "product_name", "version", "country", name="uq_validation_analytics"
        ),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    product_name: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(50), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
