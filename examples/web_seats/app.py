"""A web backend whose signed-in users share one floating license: a lease per session.

One floating key for the whole deployment, N seats. Each user gets a random license ID **once**,
at sign-up, stored on the user row. Signing in checks a seat out for that ID (a lease, renewed
in the background while the session lives); signing out gives it back. A user who vanishes
without signing out frees the seat by themselves: their session ends after ``idle_seconds``
without a request (the lease is released), and if the whole process dies the lease runs out on
the license server within its TTL. ``GET /admin`` shows the seats in use and warns when few are
left.

    pip install exisone litestar uvicorn
    LICENSE_SERVER_URL=https://licensing.example.com LICENSE_TOKEN=exo_at_... \\
    FLOATING_KEY=XXXX-XXXX-XXXX-XXXX PRODUCT_NAME=MyProduct ADMIN_TOKEN=change-me \\
    uvicorn --factory app:app_from_env
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, delete, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from exisone import (
    APIError,
    AsyncExisOneClient,
    AsyncLease,
    LeaseGrant,
    NoFreeSeatError,
    TransportError,
)

LOW_SEATS_WARNING = 5


@dataclass(frozen=True)
class Settings:
    license_server_url: str
    license_token: str
    floating_key: str
    product_name: str
    admin_token: str
    database: Path
    app_version: str = "1.0.0"
    lease_ttl_seconds: int = 300  # a crashed process's seats come back within this
    idle_seconds: float = 1800.0  # a session without a request for this long is ended
    sweep_seconds: float = 30.0  # how often idle sessions are looked for

    @classmethod
    def from_env(cls) -> Settings:
        data = Path(os.environ.get("DATA_DIR", "."))
        return cls(
            license_server_url=os.environ["LICENSE_SERVER_URL"],
            license_token=os.environ["LICENSE_TOKEN"],
            floating_key=os.environ["FLOATING_KEY"],
            product_name=os.environ["PRODUCT_NAME"],
            admin_token=os.environ["ADMIN_TOKEN"],
            database=data / "users.db",
        )


# --- users (stdlib sqlite3 to stay short; a real application uses its own ORM) -------------


@dataclass
class User:
    id: int
    email: str
    password_hash: str
    license_hardware_id: str  # made once at sign-up: the user's seat is leased for this ID


class Users:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL,"
            " password_hash TEXT NOT NULL, license_hardware_id TEXT UNIQUE NOT NULL)"
        )

    def add(self, email: str, password_hash: str, hardware_id: str) -> User:
        cursor = self.db.execute(
            "INSERT INTO users (email, password_hash, license_hardware_id) VALUES (?, ?, ?)",
            (email, password_hash, hardware_id),
        )
        return User(int(cursor.lastrowid or 0), email, password_hash, hardware_id)

    def by_email(self, email: str) -> User | None:
        row = self.db.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        return User(*row) if row else None

    def by_id(self, user_id: int) -> User | None:
        row = self.db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return User(*row) if row else None

    def all(self) -> list[User]:
        return [User(*row) for row in self.db.execute("SELECT * FROM users ORDER BY id")]

    def remove(self, user_id: int) -> None:
        self.db.execute("DELETE FROM users WHERE id = ?", (user_id,))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"{salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


# --- sessions: each holds the lease of its user's seat ---------------------------------------


@dataclass
class Session:
    token: str
    user: User
    lease: AsyncLease
    last_seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Signed-in users, by session token; one session (one lease) per user."""

    def __init__(self) -> None:
        self.by_token: dict[str, Session] = {}
        self.latest: LeaseGrant | None = None  # the newest seat count the server gave

    def of_user(self, user_id: int) -> Session | None:
        return next((s for s in self.by_token.values() if s.user.id == user_id), None)

    def add(self, user: User, lease: AsyncLease) -> Session:
        session = Session(secrets.token_urlsafe(24), user, lease)
        self.by_token[session.token] = session
        self.latest = lease.grant
        return session

    async def end(self, session: Session) -> None:
        """Forget the session and give its seat back (a lost lease has none to give)."""
        self.by_token.pop(session.token, None)
        await session.lease.release()

    async def end_idle(self, idle_seconds: float) -> int:
        now = time.monotonic()
        idle = [s for s in self.by_token.values() if now - s.last_seen >= idle_seconds]
        for session in idle:
            await self.end(session)
        return len(idle)

    async def end_all(self) -> None:
        for session in list(self.by_token.values()):
            await self.end(session)

    def seats(self) -> tuple[int, int] | None:
        """(in use, maximum) from the newest lease answer of any session (checkouts and
        heartbeats of all instances of the app count on the server; this is its latest word)."""
        grants = [s.lease.grant for s in self.by_token.values() if s.lease.grant] + (
            [self.latest] if self.latest else []
        )
        if not grants:
            return None

        def issued(grant: LeaseGrant) -> tuple[datetime, int]:  # whole seconds: ties by count
            return grant.expires_at - timedelta(seconds=grant.ttl_seconds), grant.seats_in_use

        newest = max(grants, key=issued)
        return newest.seats_in_use, newest.max_seats


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def license_client(request: Request[Any, Any, Any]) -> AsyncExisOneClient:
    client: AsyncExisOneClient = request.app.state.license_client
    return client


def users_of(request: Request[Any, Any, Any]) -> Users:
    users: Users = request.app.state.users
    return users


def sessions_of(request: Request[Any, Any, Any]) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


@dataclass
class Credentials:
    email: str
    password: str


def credentials(data: Credentials) -> tuple[str, str]:
    email, password = data.email.strip().lower(), data.password
    if "@" not in email or len(password) < 8:
        raise HTTPException(status_code=400, detail="an e-mail and a password of 8+ characters")
    return email, password


def error(code: str, message: str, status: int, **extra: Any) -> Response[Any]:
    return Response({"error": code, "message": message, **extra}, status_code=status)


@post("/signup")
async def sign_up(request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Response[Any]:
    """Create the user and their license ID; a seat is taken only while they are signed in."""
    users = users_of(request)
    email, password = credentials(data)
    if users.by_email(email):
        raise HTTPException(status_code=409, detail="this e-mail already has an account")
    user = users.add(email, hash_password(password), str(uuid.uuid4()))
    return Response({"id": user.id, "email": user.email}, status_code=201)


@post("/signin")
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Response[Any]:
    """Check the password, then lease a seat for the user's license ID: no seat, no session."""
    settings, sessions = settings_of(request), sessions_of(request)
    email, password = credentials(data)
    user = users_of(request).by_email(email)
    if user is None or not password_matches(password, user.password_hash):
        raise NotAuthorizedException("wrong e-mail or password")
    session = sessions.of_user(user.id)
    if session is None or not session.lease.active:
        if session is not None:
            await sessions.end(session)
        lease = license_client(request).lease(
            settings.floating_key,
            user.license_hardware_id,
            settings.product_name,
            version=settings.app_version,
            ttl_seconds=settings.lease_ttl_seconds,
        )
        try:
            await lease.acquire()
        except NoFreeSeatError as full:
            when = full.next_free_at.isoformat() if full.next_free_at else None
            message = "every seat is in use; try again later or ask your administrator"
            return error("no_seat", message, 409, nextFreeAt=when)
        except APIError as refused:  # not_floating, license_revoked, license_expired, ...
            message = f"no license seat for this account ({refused.error_code})"
            return error("not_licensed", message, 403)
        except TransportError:
            return error("license_server_unreachable", "try again in a moment", 503)
        session = sessions.add(user, lease)
    session.last_seen = time.monotonic()
    body = {"session": session.token, "email": user.email, "features": list(session.lease.features)}
    return Response(body, status_code=200)


def current_session(request: Request[Any, Any, Any]) -> Session:
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    session = sessions_of(request).by_token.get(token)
    if session is None:
        raise NotAuthorizedException("sign in first")
    return session


@get("/me")
async def me(request: Request[Any, Any, Any]) -> Response[Any]:
    """Any request of a signed-in user: it keeps the session (and so the seat) alive."""
    session = current_session(request)
    if session.lease.lost:  # the license server took the seat back (or could not be reached)
        reason = str(session.lease.lost_reason)
        await sessions_of(request).end(session)
        return error("session_ended", f"your license seat was taken back ({reason})", 401)
    session.last_seen = time.monotonic()
    return Response({"email": session.user.email, "features": list(session.lease.features)})


@post("/signout", status_code=200)
async def sign_out(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """End the session: its seat is free for someone else at once."""
    session = current_session(request)
    await sessions_of(request).end(session)
    return {"signedOut": session.user.email}


def require_admin(request: Request[Any, Any, Any]) -> None:
    offered = request.headers.get("x-admin-token", "")
    if not hmac.compare_digest(offered.encode(), settings_of(request).admin_token.encode()):
        raise NotAuthorizedException("admin token required (header X-Admin-Token)")


@delete("/admin/users/{user_id:int}", status_code=200)
async def remove_user(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    """End the user's session (freeing their seat), then delete the user."""
    require_admin(request)
    users, sessions = users_of(request), sessions_of(request)
    user = users.by_id(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    session = sessions.of_user(user.id)
    if session is not None:
        await sessions.end(session)
    users.remove(user.id)
    return {"removed": user.email, "seatFreed": session is not None}


def seat_summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    sessions = sessions_of(request)
    counted = sessions.seats()
    used, limit = counted if counted else (0, None)
    remaining = None if limit is None else max(0, limit - used)
    low = remaining is not None and remaining <= LOW_SEATS_WARNING
    return {
        "signedIn": len(sessions.by_token),
        "used": used,
        "max": limit,
        "remaining": remaining,
        "warning": f"Only {remaining} seats left: buy more before users are refused."
        if low
        else None,
    }


@get("/admin/seats")
async def seats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    require_admin(request)
    return seat_summary(request)


@get("/admin", media_type="text/html")
async def admin_page(request: Request[Any, Any, Any]) -> str:
    require_admin(request)
    summary = seat_summary(request)
    limit = "?" if summary["max"] is None else summary["max"]
    seats_html = f"<p id='seats'>Seats: {summary['used']} of {limit} used</p>"
    if summary["warning"]:
        seats_html += f"<p class='warning' role='alert'>{html.escape(summary['warning'])}</p>"
    signed_in = {s.user.id for s in sessions_of(request).by_token.values()}
    rows = "".join(
        f"<tr><td>{user.id}</td><td>{html.escape(user.email)}</td>"
        f"<td>{'signed in' if user.id in signed_in else '-'}</td></tr>"
        for user in users_of(request).all()
    )
    return (
        "<!doctype html><title>Admin</title><h1>Users and license seats</h1>"
        f"{seats_html}<table><tr><th>id</th><th>e-mail</th><th>seat</th></tr>{rows}</table>"
    )


def create_app(settings: Settings) -> Litestar:
    sessions = Sessions()

    async def sweep() -> None:
        while True:
            await asyncio.sleep(settings.sweep_seconds)
            await sessions.end_idle(settings.idle_seconds)

    @asynccontextmanager
    async def license_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExisOneClient(
            base_url=settings.license_server_url, access_token=settings.license_token
        ) as client:
            app.state.license_client = client
            sweeper = asyncio.ensure_future(sweep())
            try:
                yield
            finally:
                sweeper.cancel()
                with suppress(asyncio.CancelledError):
                    await sweeper
                await sessions.end_all()  # shutting down: every seat back at once

    app = Litestar(
        route_handlers=[sign_up, sign_in, me, sign_out, remove_user, seats, admin_page],
        lifespan=[license_lifespan],
    )
    app.state.settings = settings
    app.state.users = Users(settings.database)
    app.state.sessions = sessions
    return app


def app_from_env() -> Litestar:
    return create_app(Settings.from_env())
