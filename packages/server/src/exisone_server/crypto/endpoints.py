"""The tenant's public keys: GET /api/crypto/keys/public (PEM text) and GET /api/crypto/keys."""

from __future__ import annotations

from litestar import MediaType, Response, Router, get

from ..deps import DatabaseDep, PrincipalDep
from ..kit.time import format_expiration
from ..kit.wire import WireResponse
from .service import current_crypto_key, list_crypto_keys

__all__ = ["router"]


class PublicKeyRead(WireResponse):
    id: int
    fingerprint: str
    #: ``rsa`` (offline codes, signed answers, sealed requests) or ``ed25519`` (lease tokens).
    algorithm: str
    public_key: str
    is_current: bool
    created_at: str
    retired_at: str | None = None


@get("/crypto/keys/public", media_type=MediaType.TEXT)
async def current_public_key(principal: PrincipalDep, database: DatabaseDep) -> Response[str]:
    """The current RSA public key as PEM text (``text/plain``), for ``offline_public_key``."""
    async with database.read_session() as session:
        key = await current_crypto_key(session, principal.tenant_id)
    return Response(
        key.public_key_pem,
        media_type=MediaType.TEXT,
        headers={"X-Key-Fingerprint": key.fingerprint},
    )


@get("/crypto/keys")
async def all_public_keys(principal: PrincipalDep, database: DatabaseDep) -> list[PublicKeyRead]:
    """Every public key of the tenant, RSA and Ed25519 (current first): clients may trust
    retired ones too; ``offline_public_key`` takes them all."""
    async with database.read_session() as session:
        keys = await list_crypto_keys(session, principal.tenant_id)
    return [
        PublicKeyRead(
            id=key.id,
            fingerprint=key.fingerprint,
            algorithm=key.algorithm.value,
            public_key=key.public_key_pem,
            is_current=key.is_current,
            created_at=format_expiration(key.created_at),
            retired_at=format_expiration(key.retired_at) if key.retired_at else None,
        )
        for key in keys
    ]


router = Router(path="/api", route_handlers=[current_public_key, all_public_keys], tags=["crypto"])
