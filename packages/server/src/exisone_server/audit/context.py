"""Who is acting in the current request (a context variable, so services need no extra args)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Actor", "acting_as", "current_actor", "identify_customer", "identify_user"]


@dataclass(frozen=True)
class Actor:
    """``kind`` is ``token`` (``name`` = the token's public id), ``user`` (e-mail), ``customer``
    (a customer portal's signed-in e-mail), ``cli`` or ``anonymous`` (a request whose caller is
    not known yet)."""

    kind: str
    name: str
    ip_address: str | None = None


def _cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name
        user = "unknown"
    return Actor("cli", user)


#: One mutable slot per request (so :func:`identify_user` can fill in the user later).
_current: ContextVar[list[Actor] | None] = ContextVar("exisone_audit_actor", default=None)


def current_actor() -> Actor:
    """The actor set by :func:`acting_as`, else the command-line user."""
    slot = _current.get()
    return slot[0] if slot else _cli_actor()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute the audit events recorded inside the block to ``actor``."""
    token = _current.set([actor])
    try:
        yield actor
    finally:
        _current.reset(token)


def identify_user(email: str) -> None:
    """The dashboard's hook: the request's caller is the logged-in user ``email``."""
    slot = _current.get()
    if slot:
        slot[0] = Actor("user", email, slot[0].ip_address)


def identify_customer(email: str) -> None:
    """The customer portal's hook: the request's caller is the signed-in customer ``email``."""
    slot = _current.get()
    if slot:
        slot[0] = Actor("customer", email, slot[0].ip_address)
