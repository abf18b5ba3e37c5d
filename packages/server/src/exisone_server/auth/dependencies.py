"""The ``principal`` dependency: authenticate the request's token, check tenant and permission.

401 ``missing_token`` / ``invalid_token`` / ``token_expired`` / ``token_revoked``;
403 ``tenant_mismatch`` (``X-Tenant`` names another tenant) / ``permission_denied``.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from ..db import Database
from ..errors import Forbidden, Unauthorized
from ..fastpath import TokenRow, fast_reader
from ..kit.time import utc_now
from .permissions import PERMISSION_OPT, Permission
from .principal import Principal
from .tokens import hash_secret, parse_token

__all__ = [
    "authenticate",
    "check_route_access",
    "parse_authorization",
    "principal_of",
    "provide_principal",
]

SCHEME = "ExisOneApi"


def parse_authorization(authorization: str | None) -> tuple[str, str]:
    """``(public id, secret)`` of an ``Authorization: ExisOneApi <token>`` value, or 401."""
    if not authorization or not authorization.strip():
        raise Unauthorized("missing_token", f"Send 'Authorization: {SCHEME} <access token>'.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not token.strip():
        raise Unauthorized(
            "invalid_token", f"Use the '{SCHEME}' authorization scheme followed by the token."
        )
    parsed = parse_token(token.strip())
    if parsed is None:
        raise Unauthorized(
            "invalid_token", "Malformed access token (expected exo_at_<id>_<secret>)."
        )
    return parsed


def principal_of(row: TokenRow | None, secret: str, now: datetime | None = None) -> Principal:
    """The principal of a token's stored row when ``secret`` is its secret (at ``now``,
    default the clock's), or 401."""
    if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
        raise Unauthorized("invalid_token", "Unknown access token.")
    if row.revoked:
        raise Unauthorized("token_revoked", "This access token has been revoked.")
    if row.expires_at is not None and row.expires_at <= (now or utc_now()):
        raise Unauthorized("token_expired", "This access token has expired.")
    return Principal(
        token_id=row.id,
        tenant_id=row.tenant_id,
        token_name=row.name,
        permissions=frozenset(row.permissions or ()),
    )


async def authenticate(database: Database, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: ExisOneApi <token>`` header value, or 401."""
    public_id, secret = parse_authorization(authorization)
    return principal_of(await fast_reader(database).token(public_id), secret)


def check_access(
    principal: Principal, x_tenant: str | None, needed: tuple[Permission, ...]
) -> None:
    """403 when ``X-Tenant`` names another tenant or the token lacks every needed permission."""
    if x_tenant is not None and x_tenant.strip() and x_tenant.strip() != str(principal.tenant_id):
        raise Forbidden("tenant_mismatch", "The X-Tenant header does not match the token's tenant.")
    if needed and not any(principal.can(permission) for permission in needed):
        names = " or ".join(f"'{p.value}'" for p in needed)
        raise Forbidden("permission_denied", f"This access token lacks the {names} permission.")


def check_route_access(request: Request[Any, Any, Any], principal: Principal) -> None:
    """:func:`check_access` with the request's ``X-Tenant`` and its route's permissions."""
    needed = tuple(request.route_handler.opt.get(PERMISSION_OPT, ()))
    check_access(principal, request.headers.get("x-tenant"), needed)


async def provide_principal(
    request: Request[Any, Any, Any], database: NamedDependency[Database]
) -> Principal:
    """Litestar dependency: authenticate, then enforce the route's ``opt`` permissions."""
    principal = await authenticate(database, request.headers.get("authorization"))
    check_route_access(request, principal)
    return principal
