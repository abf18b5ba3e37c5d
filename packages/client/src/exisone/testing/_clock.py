"""A clock that moves only when told to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["FakeClock"]


class FakeClock:
    """Callable like ``clock()``: the current fake time, an aware UTC datetime.

    Pass it as ``clock=`` to a client and to :class:`FakeExisOneServer`; then ``advance`` or
    ``set`` it (also backwards, to test clock rollback).
    """

    def __init__(self, start: datetime | None = None) -> None:
        moment = start or datetime.now(timezone.utc).replace(microsecond=0)
        self._now = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward (or back, with a negative delta): ``advance(days=8)``."""
        self._now += (delta or timedelta()) + timedelta(**parts)
        return self._now

    def set(self, moment: datetime) -> datetime:
        self._now = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()
