"""Access tokens, crypto keys and support tickets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import Permission, create_access_token
from ..auth.tokens import list_access_tokens, revoke_access_token
from ..crypto.service import (
    current_crypto_key,
    list_crypto_keys,
    public_keys_pem,
    rotate_crypto_key,
    sign_lease_tokens_with,
)
from ..deps import DatabaseDep, MasterKeyDep
from ..errors import ApiError
from ..kit.time import utc_now
from ..models import KeyAlgorithm
from ..support.service import get_ticket, list_tickets, set_ticket_closed
from .web import BASE, form_int, page, perform, posted, require_user

__all__ = [
    "crypto_lease_tokens",
    "crypto_page",
    "crypto_public_keys_pem",
    "crypto_public_pem",
    "crypto_rotate",
    "ticket_page",
    "ticket_status",
    "tickets_page",
    "token_create",
    "token_revoke",
    "tokens_page",
]

#: Longest a token may live when an expiry is chosen (ten years).
MAX_TOKEN_DAYS = 3650


@get("/tokens")
async def tokens_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    user = await require_user(request, database)
    return await page(request, database, user, "tokens.html", await _tokens(database, user))


async def _tokens(database: Any, user: Any) -> dict[str, Any]:
    async with database.read_session() as session:
        tokens = await list_access_tokens(session, user.tenant_id)
    return {
        "tokens": tokens,
        "permissions": [p.value for p in Permission],
        "now": utc_now(),
        "secret": None,
    }


@post("/tokens", status_code=200)
async def token_create(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    """Create a token and show its secret on this answer only (it is not stored)."""
    form = await posted(request, database)
    user = form.user
    secret = None
    try:
        name = form.get("name").strip()
        if not name or len(name) > 200:
            raise ApiError("invalid_request", "Give the token a name (up to 200 characters).")
        chosen = form.all("permissions")
        if not chosen:
            raise ApiError("invalid_request", "Choose at least one permission.")
        try:
            permissions = [Permission(value) for value in chosen]
        except ValueError:
            raise ApiError("invalid_request", "Unknown permission.") from None
        days = form_int(form.get("expires_days"), "Expiry (days)", optional=True)
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise ApiError("invalid_request", f"Expiry must be 1 to {MAX_TOKEN_DAYS} days.")
        async with database.write() as session:
            issued = await create_access_token(
                session,
                tenant_id=user.tenant_id,
                name=name,
                permissions=permissions,
                expires_in=timedelta(days=days) if days else None,
            )
        secret = issued.token
        message = ("ok", "Token created. Copy it now: it will not be shown again.")
    except ApiError as exc:
        message = ("error", exc.message)
    context = await _tokens(database, user)
    context["secret"] = secret
    return await page(
        request,
        database,
        user,
        "tokens.html",
        context,
        message=message,
        status_code=200 if secret else 400,
    )


@post("/tokens/{token_id:int}/revoke", status_code=200)
async def token_revoke(
    request: Request[Any, Any, Any], database: DatabaseDep, token_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        record = await revoke_access_token(session, form.user.tenant_id, token_id)
        return f"Token {record.name!r} revoked: it no longer works."

    return await perform(database, form.user, work, done=lambda t: t, back=f"{BASE}/tokens")


@get("/crypto")
async def crypto_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        current = await current_crypto_key(session, user.tenant_id)
        keys = await list_crypto_keys(session, user.tenant_id)
    lease_key = next(
        (k for k in keys if k.is_current and k.algorithm == KeyAlgorithm.ED25519), None
    )
    return await page(
        request,
        database,
        user,
        "crypto.html",
        {"current": current, "keys": keys, "lease_key": lease_key},
    )


@get("/crypto/public.pem")
async def crypto_public_pem(
    request: Request[Any, Any, Any], database: DatabaseDep
) -> Response[str]:
    """The current RSA public key as a download (offline codes; the official clients'
    ``offline_public_key``)."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        current = await current_crypto_key(session, user.tenant_id)
    return Response(
        current.public_key_pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="exisone-public-key.pem"'},
    )


@get("/crypto/public-keys.pem")
async def crypto_public_keys_pem(
    request: Request[Any, Any, Any], database: DatabaseDep
) -> Response[str]:
    """Every public key of the tenant, current first, RSA and Ed25519, as one download: what
    clients set as ``offline_public_key`` to check offline codes and lease tokens."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        pems = await public_keys_pem(session, user.tenant_id)
    return Response(
        pems,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="exisone-public-keys.pem"'},
    )


@post("/crypto/rotate", status_code=200)
async def crypto_rotate(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Redirect:
    """A new key pair becomes current; codes signed by older keys stay valid for clients
    that keep the old public key."""
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        key = await rotate_crypto_key(session, form.user.tenant_id, master_key)
        return key.fingerprint

    return await perform(
        database,
        form.user,
        work,
        done=lambda fp: f"New key {fp[:16]}… is current. Give clients the new public key.",
        back=f"{BASE}/crypto",
    )


@post("/crypto/lease-tokens", status_code=200)
async def crypto_lease_tokens(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Redirect:
    """Sign lease tokens with a new Ed25519 key, or with the RSA key again."""
    form = await posted(request, database)
    try:
        algorithm = KeyAlgorithm(form.get("algorithm"))
    except ValueError:
        raise ApiError("invalid_request", "Choose rsa or ed25519.") from None

    async def work(session: AsyncSession) -> str:
        key = await sign_lease_tokens_with(session, form.user.tenant_id, master_key, algorithm)
        if key is None:
            return "Lease tokens are signed with the RSA key now."
        return f"Lease tokens are signed with the new Ed25519 key {key.fingerprint[:16]}…"

    return await perform(database, form.user, work, done=lambda t: t, back=f"{BASE}/crypto")


@get("/tickets")
async def tickets_page(
    request: Request[Any, Any, Any], database: DatabaseDep, show: FromQuery[str] = "open"
) -> Template:
    user = await require_user(request, database)
    closed = {"open": False, "resolved": True}.get(show)
    async with database.read_session() as session:
        tickets = await list_tickets(session, user.tenant_id, closed=closed)
    return await page(request, database, user, "tickets.html", {"tickets": tickets, "show": show})


@get("/tickets/{ticket_id:int}")
async def ticket_page(
    request: Request[Any, Any, Any], database: DatabaseDep, ticket_id: FromPath[int]
) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        ticket = await get_ticket(session, user.tenant_id, ticket_id)
    return await page(request, database, user, "ticket.html", {"ticket": ticket})


@post("/tickets/{ticket_id:int}", status_code=200)
async def ticket_status(
    request: Request[Any, Any, Any], database: DatabaseDep, ticket_id: FromPath[int]
) -> Redirect:
    """Mark resolved (``resolved=1``) or open again."""
    form = await posted(request, database)
    closed = form.get("resolved") == "1"

    async def work(session: AsyncSession) -> str:
        await set_ticket_closed(session, form.user.tenant_id, ticket_id, closed)
        return "Ticket marked resolved." if closed else "Ticket opened again."

    return await perform(
        database, form.user, work, done=lambda t: t, back=f"{BASE}/tickets/{ticket_id}"
    )
