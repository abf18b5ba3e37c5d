"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass

from .permissions import Permission, grants

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the access token and the tenant it belongs to."""

    token_id: int
    tenant_id: int
    token_name: str
    permissions: frozenset[str]

    def can(self, permission: Permission) -> bool:
        """True when the token grants ``permission`` (``admin`` grants everything)."""
        return grants(self.permissions, permission)
