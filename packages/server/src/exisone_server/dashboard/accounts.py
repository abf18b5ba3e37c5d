"""Dashboard users: argon2 password hashes, database sessions.

Failed logins are limited by :mod:`exisone_server.security.login_limits` (per IP, paced per
account, known devices exempt), never by locking the account.

Sessions live in the database (``dashboard_sessions``), so any number of server processes share
them; the cookie carries a random value of which only the SHA-256 is stored. Every session has
its own CSRF synchronizer token.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import BadRequest, Conflict
from ..kit.flash import keep_flash, take_flash
from ..kit.time import utc_now
from ..models import DashboardSession, DashboardUser

__all__ = [
    "DEMO_EMAIL",
    "MIN_PASSWORD_LENGTH",
    "SESSION_LIFETIME",
    "LoginRefused",
    "LoginResult",
    "SessionView",
    "create_user",
    "end_session",
    "find_user",
    "hash_session_token",
    "load_session",
    "log_in",
    "normalize_email",
    "pop_flash",
    "reset_demo_user",
    "set_flash",
    "set_password",
]

#: A session ends this long after login (then the user logs in again).
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both cases take the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


class LoginRefused(Exception):
    """Wrong email or password; ``message`` is safe to show (the same for both)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LoginResult:
    """A new session: ``token`` goes into the cookie (it is never stored)."""

    token: str
    user: DashboardUser
    session: DashboardSession


@dataclass(frozen=True)
class SessionView:
    """The logged-in user of a request."""

    session_id: int
    user_id: int
    tenant_id: int
    email: str
    csrf_token: str
    expires_at: datetime
    #: A message is waiting (:func:`pop_flash`).
    has_flash: bool = False


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased; 400 ``invalid_request`` unless it looks like an address."""
    address = email.strip().lower()
    if not 3 <= len(address) <= 320 or "@" not in address or any(c.isspace() for c in address):
        raise BadRequest("invalid_request", "Invalid request: enter a valid email address.")
    return address


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            "invalid_request",
            f"Invalid request: the password needs at least {MIN_PASSWORD_LENGTH} characters.",
        )
    if len(password) > 1024:
        raise BadRequest("invalid_request", "Invalid request: the password is too long.")


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_user(
    session: AsyncSession, tenant_id: int, email: str, password: str
) -> DashboardUser:
    """A new user of the tenant; 409 ``user_exists`` when the email is taken."""
    address = normalize_email(email)
    _check_password(password)
    if await session.scalar(select(DashboardUser.id).where(DashboardUser.email == address)):
        raise Conflict("user_exists", f"A dashboard user {address!r} already exists.")
    user = DashboardUser(tenant_id=tenant_id, email=address, password_hash=_hasher.hash(password))
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, user: DashboardUser, password: str) -> None:
    """Replace the password and end all its sessions (known-device cookies stop counting)."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    await session.execute(delete(DashboardSession).where(DashboardSession.user_id == user.id))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def find_user(session: AsyncSession, email: str) -> DashboardUser | None:
    """The user whose login is ``email`` (trimmed, any case), or None."""
    address = email.strip().lower()
    return await session.scalar(select(DashboardUser).where(DashboardUser.email == address))


async def log_in(
    session: AsyncSession, email: str, password: str, *, now: datetime | None = None
) -> LoginResult:
    """Check the password and open a session; :class:`LoginRefused` otherwise.

    An unknown e-mail costs an argon2 verification too (against a hash made once), and both
    failures raise the same message, so neither the answer nor its time tells whether the
    account exists. A failure writes nothing.
    """
    moment = now or utc_now()
    user = await find_user(session, email)
    if user is None:
        _verify(_dummy_hash(), password)
        raise LoginRefused("Wrong email or password.")
    if not _verify(user.password_hash, password):
        raise LoginRefused("Wrong email or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = moment
    await session.execute(
        delete(DashboardSession).where(
            DashboardSession.user_id == user.id, DashboardSession.expires_at <= moment
        )
    )
    token = secrets.token_urlsafe(32)
    record = DashboardSession(
        user_id=user.id,
        token_hash=hash_session_token(token),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=moment + SESSION_LIFETIME,
        created_at=moment,
    )
    session.add(record)
    await session.flush()
    return LoginResult(token=token, user=user, session=record)


async def load_session(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> SessionView | None:
    """The live session of a cookie value, or None (unknown or expired)."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.execute(
            select(DashboardSession, DashboardUser)
            .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
            .where(DashboardSession.token_hash == hash_session_token(token))
        )
    ).first()
    if row is None:
        return None
    record, user = row
    if record.expires_at <= (now or utc_now()):
        return None
    return SessionView(
        session_id=record.id,
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        csrf_token=record.csrf_token,
        expires_at=record.expires_at,
        has_flash=record.flash is not None,
    )


async def end_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


async def set_flash(session: AsyncSession, session_id: int, message: str) -> None:
    """Keep a message for the next page this session sees."""
    await keep_flash(session, DashboardSession, session_id, message)


async def pop_flash(session: AsyncSession, session_id: int) -> str | None:
    """The kept message, removed."""
    return await take_flash(session, DashboardSession, session_id)


#: The demo user's login (``exisone-server demo``).
DEMO_EMAIL = "demo@example.com"


async def reset_demo_user(session: AsyncSession, tenant_id: int) -> tuple[str, str]:
    """Create the demo user of the tenant, or give it a new password; ``(email, password)``."""
    password = secrets.token_urlsafe(12)
    user = await session.scalar(select(DashboardUser).where(DashboardUser.email == DEMO_EMAIL))
    if user is None:
        await create_user(session, tenant_id, DEMO_EMAIL, password)
    else:
        user.tenant_id = tenant_id
        await set_password(session, user, password)
    return DEMO_EMAIL, password
