"""Who is acting in the current request (a context variable, so services need no extra args)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Actor", "acting_as", "current_actor"]


@dataclass(frozen=True)
class Actor:
    """``kind`` is ``token`` (``name`` = the token's public id), ``user`` (e-mail) or ``cli``."""

    kind: str
    name: str
    ip_address: str | None = None


def _cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name
        user = "unknown"
    return Actor("cli", user)


_current: ContextVar[Actor | None] = ContextVar("exisone_audit_actor", default=None)


def current_actor() -> Actor:
    """The actor set by :func:`acting_as`, else the command-line user."""
    return _current.get() or _cli_actor()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute the audit events recorded inside the block to ``actor``."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
