"""Token permissions and how routes declare the ones they need."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

__all__ = ["PERMISSION_OPT", "Permission", "grants", "requires", "requires_any"]

#: Key in a route's ``opt`` holding the permissions of which the caller needs at least one.
PERMISSION_OPT = "exisone_permissions"


class Permission(enum.StrEnum):
    """What a token may do (the names shown on ExisOne's Access Tokens page, plus ``admin``)."""

    VERIFY = "verify"  # POST /api/license/validate (+ validate-bulk)
    GENERATE = "generate"  # POST /api/activationkey/generate
    EMAIL = "email"  # POST /api/support/ticket
    ADMIN = "admin"  # everything, including the publisher API; implies the three above


_ADMIN = Permission.ADMIN.value


def grants(held: Iterable[str], needed: Permission) -> bool:
    """True when a token holding ``held`` may do what needs ``needed`` (admin implies all)."""
    names = held if isinstance(held, (set, frozenset)) else set(held)  # a principal's: no copy
    return _ADMIN in names or needed._value_ in names


def requires(permission: Permission) -> dict[str, Any]:
    """Route ``opt`` for an endpoint needing ``permission``: ``@post(..., opt=requires(...))``."""
    return {PERMISSION_OPT: (permission,)}


def requires_any(*permissions: Permission) -> dict[str, Any]:
    """Route ``opt`` for an endpoint open to a token holding any one of ``permissions``."""
    if not permissions:
        raise ValueError("requires_any() needs at least one permission")
    return {PERMISSION_OPT: tuple(permissions)}
