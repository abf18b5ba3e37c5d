"""Access token format ``exo_at_<publicId>_<secret>``, creation and hashing.

The public id is alphanumeric, so the token splits unambiguously at the underscore after it (the
secret may itself contain ``_`` and ``-``). Only SHA-256 of the secret is stored; the secret is
256 random bits, so no slow hash is needed. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import NotFound
from ..kit.time import utc_now
from ..models import AccessToken
from .permissions import Permission

__all__ = [
    "TOKEN_PREFIX",
    "IssuedToken",
    "create_access_token",
    "format_token",
    "hash_secret",
    "list_access_tokens",
    "parse_token",
    "revoke_access_token",
]

TOKEN_PREFIX = "exo_at_"
_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits
_PUBLIC_ID_LENGTH = 16


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: ``token`` is shown once and never stored."""

    token: str
    record: AccessToken


def format_token(public_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{public_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """``(public_id, secret)`` of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    public_id, separator, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
    if not separator or not public_id.isalnum() or not public_id.isascii() or not secret:
        return None
    return public_id, secret


def hash_secret(secret: str) -> str:
    """The stored form of a token secret: hex SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def create_access_token(
    session: AsyncSession,
    *,
    tenant_id: int,
    name: str,
    permissions: Iterable[Permission | str],
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Create a token for ``tenant_id``; the returned ``token`` string is the only copy."""
    names = sorted({Permission(p).value for p in permissions})
    if not names:
        raise ValueError("a token needs at least one permission")
    public_id = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(_PUBLIC_ID_LENGTH))
    secret = secrets.token_urlsafe(32)
    moment = now or utc_now()
    record = AccessToken(
        tenant_id=tenant_id,
        name=name,
        public_id=public_id,
        secret_hash=hash_secret(secret),
        permissions=names,
        expires_at=moment + expires_in if expires_in is not None else None,
        created_at=moment,
    )
    session.add(record)
    await session.flush()
    await record_audit(  # hook (security): audit log, same transaction
        session,
        tenant_id,
        "token.create",
        target_type="access_token",
        target=public_id,
        details={"name": name, "permissions": names},
    )
    return IssuedToken(format_token(public_id, secret), record)


async def list_access_tokens(session: AsyncSession, tenant_id: int) -> list[AccessToken]:
    """The tenant's tokens, newest first (revoked and expired ones included)."""
    result = await session.scalars(
        select(AccessToken)
        .where(AccessToken.tenant_id == tenant_id)
        .order_by(AccessToken.seq.desc(), AccessToken.id.desc())
    )
    return list(result)


async def revoke_access_token(session: AsyncSession, tenant_id: int, token_id: int) -> AccessToken:
    """Revoke the tenant's token ``token_id`` for good; 404 ``token_not_found`` otherwise."""
    record = await session.scalar(
        select(AccessToken).where(AccessToken.tenant_id == tenant_id, AccessToken.id == token_id)
    )
    if record is None:
        raise NotFound("token_not_found", f"No access token with id {token_id}.")
    record.revoked = True
    await session.flush()
    await record_audit(  # hook (security): audit log, same transaction
        session,
        tenant_id,
        "token.revoke",
        target_type="access_token",
        target=record.public_id,
        details={"name": record.name},
    )
    return record
