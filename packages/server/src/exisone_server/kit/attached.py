"""One object per :class:`~exisone_server.db.Database` and process, made on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["attached"]

T = TypeVar("T")


def attached(database: Any, attribute: str, make: Callable[[Any], T]) -> T:
    """``database``'s ``attribute``, made by ``make(database)`` the first time (a plain
    attribute: one dict lookup per call, as the fast path's reader does)."""
    try:
        value: T = database.__dict__[attribute]
        return value
    except KeyError:
        value = make(database)
        setattr(database, attribute, value)
        return value
