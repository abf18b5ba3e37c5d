"""Publisher dashboard users and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["DashboardSession", "DashboardUser"]


class DashboardUser(Model):
    """A person who logs in to the dashboard; belongs to one tenant. Emails are unique."""

    __tablename__ = "dashboard_users"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: Lower-cased; the login name.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: argon2id hash (argon2-cffi's PasswordHasher); never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class DashboardSession(Model):
    """A logged-in browser. Only the SHA-256 of the session cookie's value is stored."""

    __tablename__ = "dashboard_sessions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), index=True
    )
    #: Hex SHA-256 of the cookie value.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The synchronizer token every form of this session must send back.
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    #: A one-shot message shown on the next page (the result of the last action).
    flash: Mapped[str | None] = mapped_column(String(2000), default=None)
