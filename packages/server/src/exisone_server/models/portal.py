"""The customer portal: a tenant's portal settings, sign-in links and customers' sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from ..kit.time import utc_now
from .base import Model

__all__ = ["PortalLink", "PortalSession", "PortalSettings"]


class PortalSettings(Model):
    """A tenant's customer portal: its address (``slug``), branding and public URL."""

    __tablename__ = "portal_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), unique=True
    )
    #: The portal answers at ``/portal/<slug>`` only while enabled.
    enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Lower-case letters, digits and hyphens; unique across tenants.
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    #: Shown as the portal's title; None = the tenant's name.
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    #: An ``https://`` image shown at the top of every page.
    logo_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: ``#rrggbb``; None = the default colour.
    accent_color: Mapped[str | None] = mapped_column(String(7), default=None)
    #: Shown on the pages; None = the e-mail support address, if any.
    support_address: Mapped[str | None] = mapped_column(String(320), default=None)
    #: The portal's address as customers reach it (the links in e-mails), e.g.
    #: ``https://licenses.acme.example/portal/acme``; None = ``EXISONE_PORTAL_URL``/``<slug>``.
    public_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class PortalLink(Model):
    """A single-use sign-in link e-mailed to a customer. Only the SHA-256 of its token is kept."""

    __tablename__ = "portal_links"
    __table_args__ = (Index("ix_portal_links_expires_at", "expires_at"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: Lower-cased.
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    #: Set (atomically, once) when the link is used.
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalSession(Model):
    """A customer signed in to a tenant's portal (separate from dashboard sessions)."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_tenant_id_email", "tenant_id", "email"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: Lower-cased: the customer sees the licenses that carry this address (any case).
    email: Mapped[str] = mapped_column(String(320))
    #: Hex SHA-256 of the cookie value.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The synchronizer token every form of this session sends back.
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    #: A one-shot message for the next page (the outcome of the last action).
    flash: Mapped[str | None] = mapped_column(String(2000), default=None)
