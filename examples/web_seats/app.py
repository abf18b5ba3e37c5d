"""A web backend whose users share one corporate license: one seat per user (Litestar, async).

The pattern of ExisOne's Docker guide: one corporate key for the whole deployment; each user gets
a random hardware ID **once**, at sign-up, stored on the user row and used for every license call
about that user. Sign-up activates it (takes a seat), sign-in validates it, removing the user
deactivates it (frees the seat). ``GET /admin`` shows the seat usage and warns when 5 or fewer
seats remain.

    pip install exisone litestar uvicorn
    LICENSE_SERVER_URL=https://licensing.example.com LICENSE_TOKEN=exo_at_... \\
    CORPORATE_KEY=XXXX-XXXX-XXXX-XXXX PRODUCT_NAME=MyProduct ADMIN_TOKEN=change-me \\
    uvicorn --factory app:app_from_env
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import secrets
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, delete, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from exisone import APIError, AsyncExisOneClient

LOW_SEATS_WARNING = 5


@dataclass(frozen=True)
class Settings:
    license_server_url: str
    license_token: str
    corporate_key: str
    product_name: str
    admin_token: str
    database: Path
    app_version: str = "1.0.0"
    license_state_dir: Path | None = None  # the SDK's outbox (deactivations sent later)

    @classmethod
    def from_env(cls) -> Settings:
        data = Path(os.environ.get("DATA_DIR", "."))
        return cls(
            license_server_url=os.environ["LICENSE_SERVER_URL"],
            license_token=os.environ["LICENSE_TOKEN"],
            corporate_key=os.environ["CORPORATE_KEY"],
            product_name=os.environ["PRODUCT_NAME"],
            admin_token=os.environ["ADMIN_TOKEN"],
            database=data / "users.db",
            license_state_dir=data / "license-state",
        )


# --- users (stdlib sqlite3 to stay short; a real application uses its own ORM) -------------


@dataclass
class User:
    id: int
    email: str
    password_hash: str
    license_hardware_id: str  # made once at sign-up; a new ID would take a new seat


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


# --- the license calls ---------------------------------------------------------------------


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def license_client(request: Request[Any, Any, Any]) -> AsyncExisOneClient:
    client: AsyncExisOneClient = request.app.state.license_client
    return client


def users_of(request: Request[Any, Any, Any]) -> Users:
    users: Users = request.app.state.users
    return users


@dataclass
class Credentials:
    email: str
    password: str


def credentials(data: Credentials) -> tuple[str, str]:
    email, password = data.email.strip().lower(), data.password
    if "@" not in email or len(password) < 8:
        raise HTTPException(status_code=400, detail="an e-mail and a password of 8+ characters")
    return email, password


@post("/signup")
async def sign_up(request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Response[Any]:
    """Create the user and take a seat for them; no seat, no account."""
    settings, users = settings_of(request), users_of(request)
    email, password = credentials(data)
    if users.by_email(email):
        raise HTTPException(status_code=409, detail="this e-mail already has an account")
    hardware_id = str(uuid.uuid4())  # the user's stable license ID, stored below
    result = await license_client(request).activate(
        settings.corporate_key, email, hardware_id, settings.product_name, settings.app_version
    )
    if not result.success:
        if result.error_code == "seat_limit_reached":
            detail = "every seat of the license is taken; ask your administrator"
            return Response({"error": "no_seat", "message": detail}, status_code=409)
        message = f"license server: {result.error_code}: {result.error_message}"
        return Response({"error": "license_error", "message": message}, status_code=503)
    user = users.add(email, hash_password(password), hardware_id)
    return Response({"id": user.id, "email": user.email}, status_code=201)


@post("/signin")
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Response[Any]:
    """Check the password, then the user's seat (an outage of the license server lets them in)."""
    settings = settings_of(request)
    email, password = credentials(data)
    user = users_of(request).by_email(email)
    if user is None or not password_matches(password, user.password_hash):
        raise NotAuthorizedException("wrong e-mail or password")
    result = await license_client(request).validate_smart(
        settings.corporate_key,
        user.license_hardware_id,
        settings.product_name,
        settings.app_version,
    )
    if not result.is_valid and result.status != "offline":
        detail = f"no license seat for this account ({result.status}); ask your administrator"
        return Response({"error": "not_licensed", "message": detail}, status_code=403)
    body = {"email": user.email, "license": str(result.status), "features": result.features}
    return Response(body, status_code=200)


def require_admin(request: Request[Any, Any, Any]) -> None:
    offered = request.headers.get("x-admin-token", "")
    if not hmac.compare_digest(offered.encode(), settings_of(request).admin_token.encode()):
        raise NotAuthorizedException("admin token required (header X-Admin-Token)")


@delete("/admin/users/{user_id:int}", status_code=200)
async def remove_user(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    """Free the user's seat, then delete the user (an unreachable server is told later)."""
    require_admin(request)
    settings, users = settings_of(request), users_of(request)
    user = users.by_id(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    result = await license_client(request).deactivate_smart(
        settings.corporate_key, user.license_hardware_id, settings.product_name
    )
    if not result.success:
        detail = f"the license server refused: {result.error_code}: {result.error_message}"
        raise HTTPException(status_code=502, detail=detail)
    users.remove(user.id)
    return {"removed": user.email, "seatFreed": result.server_notified}


async def seat_summary(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        usage = await license_client(request).get_seat_usage(settings_of(request).corporate_key)
    except APIError as error:
        return {"error": f"{error.error_code}: {error.message}"}
    low = usage.remaining is not None and usage.remaining <= LOW_SEATS_WARNING
    return {
        "used": usage.current_seats,
        "max": None if usage.is_unlimited else usage.max_seats,
        "remaining": usage.remaining,
        "warning": f"Only {usage.remaining} seats left: buy more before users are refused."
        if low
        else None,
    }


@get("/admin/seats")
async def seats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    require_admin(request)
    return await seat_summary(request)


@get("/admin", media_type="text/html")
async def admin_page(request: Request[Any, Any, Any]) -> str:
    require_admin(request)
    summary = await seat_summary(request)
    if "error" in summary:
        seats_html = f"<p class='error'>Seat usage unavailable: {html.escape(summary['error'])}</p>"
    else:
        limit = "unlimited" if summary["max"] is None else summary["max"]
        seats_html = f"<p id='seats'>Seats: {summary['used']} of {limit} used</p>"
        if summary["warning"]:
            seats_html += f"<p class='warning' role='alert'>{html.escape(summary['warning'])}</p>"
    rows = "".join(
        f"<tr><td>{user.id}</td><td>{html.escape(user.email)}</td>"
        f"<td><code>{user.license_hardware_id}</code></td></tr>"
        for user in users_of(request).all()
    )
    return (
        "<!doctype html><title>Admin</title><h1>Users and license seats</h1>"
        f"{seats_html}<table><tr><th>id</th><th>e-mail</th><th>license ID</th></tr>{rows}</table>"
    )


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def license_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExisOneClient(
            base_url=settings.license_server_url,
            access_token=settings.license_token,
            state_dir=settings.license_state_dir or False,
        ) as client:
            app.state.license_client = client
            yield

    app = Litestar(
        route_handlers=[sign_up, sign_in, remove_user, seats, admin_page],
        lifespan=[license_lifespan],
    )
    app.state.settings = settings
    app.state.users = Users(settings.database)
    return app


def app_from_env() -> Litestar:
    return create_app(Settings.from_env())
