"""Which lookups of a request found nothing: the facts the failed-lookup limits count.

A route that looks licenses up by something a caller could guess (an activation key or offline
code, an e-mail address, a hardware ID) is marked with :func:`looks_up`. While such a request
runs, the code that looks up reports each outcome with :func:`lookup_missed` or
:func:`lookup_found` (no-ops outside such a request); the security layer reads the
request's :class:`LookupLedger` before the answer leaves (:meth:`FailureLimiter.settle`). So
whether a lookup failed is decided where it failed, not by reading the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOOKUP_OPT",
    "LookupLedger",
    "counting_lookups",
    "looks_up",
    "lookup_found",
    "lookup_missed",
    "lookup_route",
]

#: Route ``opt`` key set by :func:`looks_up`: ``"read"`` or ``"write"``.
LOOKUP_OPT = "exisone_lookup"


@dataclass
class LookupLedger:
    """The outcomes of one request's lookups."""

    missed: int = 0
    found: int = 0


_ledger: ContextVar[LookupLedger | None] = ContextVar("exisone_lookup_ledger", default=None)


def looks_up(*, writes: bool = False) -> dict[str, Any]:
    """Route ``opt`` of an endpoint that looks licenses up by a guessable value.

    ``writes``: a found lookup may change data (activate, revoke ...), so its answer is never
    withheld; a read's answer may be (:meth:`FailureLimiter.settle`).
    """
    return {LOOKUP_OPT: "write" if writes else "read"}


def lookup_route(opt: dict[str, Any]) -> str | None:
    """``"read"`` / ``"write"`` for a route marked by :func:`looks_up`, else None."""
    kind = opt.get(LOOKUP_OPT)
    return kind if isinstance(kind, str) else None


@contextmanager
def counting_lookups() -> Iterator[LookupLedger]:
    """A fresh ledger for the lookups made inside the block (one request)."""
    ledger = LookupLedger()
    reset = _ledger.set(ledger)
    try:
        yield ledger
    finally:
        _ledger.reset(reset)


def lookup_missed(count: int = 1) -> None:
    """``count`` lookups of this request found nothing."""
    ledger = _ledger.get()
    if ledger is not None:
        ledger.missed += count


def lookup_found(count: int = 1) -> None:
    """``count`` lookups of this request found what they looked for."""
    ledger = _ledger.get()
    if ledger is not None:
        ledger.found += count
