"""API-key licensing: a key's lifetime quota of calls, its per-minute rate, its daily usage."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["ApiQuota", "ApiUsageDay"]


class ApiQuota(Model):
    """The calls an API key (a license of an API product) was granted and has used.

    Made on the key's first use with its plan's (or product's) grant; changed by one
    conditional UPDATE per consume (:mod:`exisone_server.api_keys.consume`), never more than
    granted. The per-minute rate is a fixed window: ``window_calls`` calls in the UTC minute
    ``window_minute`` (minutes since the Unix epoch).
    """

    __tablename__ = "api_quotas"

    license_id: Mapped[int] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), unique=True
    )
    #: Every call granted so far (plan or purchase, plus top-ups).
    calls_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    calls_used: Mapped[int] = mapped_column(BigInteger, default=0)
    #: None = no per-minute limit.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(BigInteger, default=None)
    window_minute: Mapped[int] = mapped_column(BigInteger, default=0)
    window_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiUsageDay(Model):
    """Calls an API key consumed on one UTC day (the dashboard's usage over time)."""

    __tablename__ = "api_usage_days"
    __table_args__ = (UniqueConstraint("license_id", "day"),)

    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
