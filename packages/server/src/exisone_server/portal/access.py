"""Signing customers in: single-use e-mailed links, then database sessions of their own.

* A link's token is 32 random bytes (256 bits, URL-safe); only its SHA-256 is stored. It is
  valid :data:`LINK_LIFETIME` and used at most once: :func:`use_link` marks it used with one
  conditional ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``, so two clicks (or two
  processes) never both succeed.
* A session is a row of ``portal_sessions`` (never a dashboard session): the cookie carries a
  random value of which only the SHA-256 is stored, with its own CSRF synchronizer token. It
  belongs to one tenant and one lower-cased address; signing out everywhere deletes every
  session of that address in that tenant.
* The link e-mail holds the secret until the link is used or expired; then its stored body is
  replaced (:func:`forget_link_mail`), so the message log keeps no usable link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.flash import keep_flash, take_flash
from ..kit.time import utc_now
from ..models import License, MailMessage, PortalLink, PortalSession

__all__ = [
    "LINK_LIFETIME",
    "SESSION_LIFETIME",
    "Customer",
    "create_link",
    "customer_has_licenses",
    "end_all_sessions",
    "end_session",
    "forget_expired_links",
    "link_mail_key",
    "load_customer",
    "peek_link",
    "pop_flash",
    "set_flash",
    "start_session",
    "use_link",
]

LINK_LIFETIME = timedelta(minutes=15)
#: A customer signs in again after this.
SESSION_LIFETIME = timedelta(hours=12)
#: What the stored link e-mail says once its link cannot be used any more.
_FORGOTTEN = "This e-mail held a sign-in link that has been used or has expired."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _acceptable(token: str) -> bool:
    return 0 < len(token) <= 200 and token.isascii()


@dataclass(frozen=True)
class Customer:
    """The signed-in customer of a request."""

    session_id: int
    tenant_id: int
    #: Lower-cased.
    email: str
    csrf_token: str
    has_flash: bool


async def customer_has_licenses(session: AsyncSession, tenant_id: int, email: str) -> bool:
    """Whether any license of the tenant carries the address (any case)."""
    found = await session.scalar(
        select(License.id)
        .where(License.tenant_id == tenant_id, func.lower(License.email) == email.lower())
        .limit(1)
    )
    return found is not None


def link_mail_key(token_hash: str) -> str:
    """The dedupe key of a link's e-mail (how the e-mail is found again): unique like the
    token, and saying nothing about it."""
    return f"portal-sign-in:{token_hash}"


async def create_link(
    session: AsyncSession, tenant_id: int, email: str, *, now: datetime | None = None
) -> tuple[PortalLink, str]:
    """A new sign-in link for the (lower-cased) address: the row and its token."""
    moment = now or utc_now()
    token = secrets.token_urlsafe(32)
    link = PortalLink(
        tenant_id=tenant_id,
        email=email.lower(),
        token_hash=_hash(token),
        expires_at=moment + LINK_LIFETIME,
        created_at=moment,
    )
    session.add(link)
    await session.flush()
    return link, token


async def peek_link(
    session: AsyncSession, tenant_id: int, token: str, *, now: datetime | None = None
) -> str | None:
    """The address of a usable link of this tenant (not marked used), or None."""
    if not _acceptable(token):
        return None
    email: str | None = await session.scalar(
        select(PortalLink.email).where(
            PortalLink.token_hash == _hash(token),
            PortalLink.tenant_id == tenant_id,
            PortalLink.used_at.is_(None),
            PortalLink.expires_at > (now or utc_now()),
        )
    )
    return email


async def use_link(
    session: AsyncSession, tenant_id: int, token: str, *, now: datetime | None = None
) -> str | None:
    """Mark the link used, atomically; its address, or None (unknown, another tenant's, used,
    expired). Its e-mail is forgotten."""
    if not _acceptable(token):
        return None
    moment = now or utc_now()
    row = (
        await session.execute(
            update(PortalLink)
            .where(
                PortalLink.token_hash == _hash(token),
                PortalLink.tenant_id == tenant_id,
                PortalLink.used_at.is_(None),
                PortalLink.expires_at > moment,
            )
            .values(used_at=moment)
            .returning(PortalLink.token_hash, PortalLink.email)
        )
    ).first()
    if row is None:
        return None
    await forget_link_mail(session, [row.token_hash])
    email: str = row.email
    return email


async def forget_link_mail(session: AsyncSession, token_hashes: list[str]) -> None:
    """Replace the stored bodies of these links' e-mails (the message log keeps no secret)."""
    if not token_hashes:
        return
    await session.execute(
        update(MailMessage)
        .where(MailMessage.dedupe_key.in_([link_mail_key(item) for item in token_hashes]))
        .values(text_body=_FORGOTTEN + "\n", html_body=f"<p>{_FORGOTTEN}</p>\n")
    )


async def forget_expired_links(session: AsyncSession, *, now: datetime | None = None) -> None:
    """Delete links that can no longer be used, and forget their e-mails."""
    moment = now or utc_now()
    gone = (PortalLink.expires_at <= moment) | PortalLink.used_at.is_not(None)
    hashes = list(await session.scalars(select(PortalLink.token_hash).where(gone)))
    if hashes:
        await forget_link_mail(session, hashes)
        await session.execute(delete(PortalLink).where(PortalLink.token_hash.in_(hashes)))
    await session.execute(delete(PortalSession).where(PortalSession.expires_at <= moment))


async def start_session(
    session: AsyncSession, tenant_id: int, email: str, *, now: datetime | None = None
) -> str:
    """A new session of the address; the cookie value (never stored)."""
    moment = now or utc_now()
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            tenant_id=tenant_id,
            email=email.lower(),
            token_hash=_hash(token),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=moment + SESSION_LIFETIME,
            created_at=moment,
        )
    )
    await session.flush()
    return token


async def load_customer(
    session: AsyncSession, tenant_id: int, token: str, *, now: datetime | None = None
) -> Customer | None:
    """The live session of a cookie value in this tenant's portal, or None."""
    if not _acceptable(token):
        return None
    record = await session.scalar(
        select(PortalSession).where(
            PortalSession.token_hash == _hash(token),
            PortalSession.tenant_id == tenant_id,
            PortalSession.expires_at > (now or utc_now()),
        )
    )
    if record is None:
        return None
    return Customer(
        session_id=record.id,
        tenant_id=record.tenant_id,
        email=record.email,
        csrf_token=record.csrf_token,
        has_flash=record.flash is not None,
    )


async def end_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.id == session_id))


async def end_all_sessions(session: AsyncSession, tenant_id: int, email: str) -> int:
    """Sign the address out of this tenant's portal on every browser; how many sessions."""
    result = await session.execute(
        delete(PortalSession).where(
            PortalSession.tenant_id == tenant_id, PortalSession.email == email.lower()
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def set_flash(session: AsyncSession, session_id: int, message: str) -> None:
    """Keep a message for the next page this session sees."""
    await keep_flash(session, PortalSession, session_id, message)


async def pop_flash(session: AsyncSession, session_id: int) -> str | None:
    """The kept message, removed."""
    return await take_flash(session, PortalSession, session_id)
