"""A tenant's portal settings: read, checked and saved; which tenant a portal address names.

The portal of a tenant lives at ``/portal/<slug>``; the slug is the tenant's choice (unique).
The links in its e-mails start with the tenant's public address, else the server's
``EXISONE_PORTAL_URL``; a portal is enabled only when one of them is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import BadRequest, Conflict
from ..mail.addresses import recipient
from ..mail.routing import load_tenant_settings, support_address
from ..mail.settings import MailSettings
from ..models import PortalSettings, Tenant
from .addresses import check_logo_url, check_slug, public_origin
from .settings import PortalServerSettings
from .theme import check_accent

__all__ = [
    "Portal",
    "PortalForm",
    "find_portal",
    "load_portal_settings",
    "save_portal_settings",
    "suggested_slug",
]


@dataclass(frozen=True)
class Portal:
    """An enabled portal, as its pages need it."""

    tenant_id: int
    slug: str
    name: str
    logo_url: str | None
    accent_color: str | None
    support_address: str | None
    #: ``https://host`` the links in e-mails start with.
    origin: str

    @property
    def base(self) -> str:
        """The path of its pages."""
        return f"/portal/{self.slug}"

    @property
    def url(self) -> str:
        """Its address as customers reach it."""
        return self.origin + self.base


@dataclass(frozen=True)
class PortalForm:
    """The dashboard's portal form, as typed (checked by :func:`save_portal_settings`)."""

    enabled: bool
    slug: str
    display_name: str = ""
    logo_url: str = ""
    accent_color: str = ""
    support_address: str = ""
    public_url: str = ""


def suggested_slug(tenant_name: str) -> str:
    """A slug made of a tenant's name (the form's first value)."""
    words = "".join(char if char.isalnum() and char.isascii() else "-" for char in tenant_name)
    slug = "-".join(part for part in words.lower().split("-") if part)[:63].strip("-")
    return slug or "portal"


async def load_portal_settings(session: AsyncSession, tenant_id: int) -> PortalSettings | None:
    return await session.scalar(select(PortalSettings).where(PortalSettings.tenant_id == tenant_id))


async def find_portal(
    session: AsyncSession, slug: str, server: PortalServerSettings
) -> Portal | None:
    """The enabled portal at ``/portal/<slug>``, or None."""
    row = (
        await session.execute(
            select(PortalSettings, Tenant.name)
            .join(Tenant, Tenant.id == PortalSettings.tenant_id)
            .where(PortalSettings.slug == slug.lower(), PortalSettings.enabled.is_(True))
        )
    ).first()
    if row is None:
        return None
    settings, tenant_name = row
    origin = settings.public_url or server.portal_url
    if origin is None:
        return None
    support = settings.support_address
    if support is None:  # the e-mails' support address (else their From), if any
        mail = await load_tenant_settings(session, settings.tenant_id)
        support = support_address(mail, MailSettings.from_env()) or None
    return Portal(
        tenant_id=settings.tenant_id,
        slug=settings.slug,
        name=settings.display_name or tenant_name,
        logo_url=settings.logo_url,
        accent_color=settings.accent_color,
        support_address=support,
        origin=origin,
    )


def _optional(text: str) -> str | None:
    return text.strip() or None


async def save_portal_settings(
    session: AsyncSession, tenant_id: int, form: PortalForm, server: PortalServerSettings
) -> PortalSettings:
    """Check and store the form; 400 ``invalid_request`` naming the field at fault, 409
    ``portal_address_taken`` when another tenant has the slug."""
    try:
        slug = check_slug(form.slug)
        logo = check_logo_url(form.logo_url) if form.logo_url.strip() else None
        accent = check_accent(form.accent_color) if form.accent_color.strip() else None
        origin = public_origin(form.public_url) if form.public_url.strip() else None
    except ValueError as exc:
        raise BadRequest("invalid_request", str(exc)) from None
    support = _optional(form.support_address)
    if support is not None and recipient(support) is None:
        raise BadRequest("invalid_request", "The support address must be an e-mail address.")
    name = _optional(form.display_name)
    if name is not None and len(name) > 200:
        raise BadRequest("invalid_request", "The display name is longer than 200 characters.")
    if form.enabled and origin is None and server.portal_url is None:
        raise BadRequest(
            "invalid_request",
            "Set the portal's public address (the sign-in links start with it) before enabling it.",
        )
    row = await load_portal_settings(session, tenant_id)
    if row is None:
        row = PortalSettings(tenant_id=tenant_id, slug=slug)
        session.add(row)
    row.enabled = form.enabled
    row.slug = slug
    row.display_name = name
    row.logo_url = logo
    row.accent_color = accent
    row.support_address = support
    row.public_url = origin
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "portal_address_taken", f"The portal address {slug!r} is taken; choose another."
        ) from None
    await record_audit(
        session,
        tenant_id,
        "portal.settings",
        target_type="portal",
        target=slug,
        details={"enabled": form.enabled},
    )
    return row
