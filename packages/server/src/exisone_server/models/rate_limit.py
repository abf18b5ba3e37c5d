"""Counters of failed attempts per scope, key and time window, shared by every server process."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["RateLimitCounter"]


class RateLimitCounter(Model):
    """``count`` failures of ``key`` (e.g. ``ip:7:203.0.113.9``) in the window starting at
    ``window_start`` (Unix seconds). Old windows are deleted by the limiter."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (UniqueConstraint("scope", "key", "window_start"),)

    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)
