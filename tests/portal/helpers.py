"""Helpers of the in-process portal tests: a tenant's portal, a customer's signed-in client."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from exisone_server.models import MailMessage
from exisone_server.portal.config import PortalForm, save_portal_settings
from exisone_server.portal.settings import PortalServerSettings

from ..server.seeding import Seed

ORIGIN = "https://licenses.example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"/link\?token=([A-Za-z0-9_\-]+)")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def open_portal(seed: Seed, **fields: Any) -> str:
    """Enable the seed tenant's portal; its base path ``/portal/<slug>``."""
    slug = fields.pop("slug", f"shop-{uuid.uuid4().hex[:8]}")
    async with seed.database.write() as session:
        await save_portal_settings(
            session,
            seed.tenant.id,
            PortalForm(enabled=True, slug=slug, public_url=ORIGIN, **fields),
            PortalServerSettings(),
        )
    return f"/portal/{slug}"


async def link_tokens(seed: Seed, email: str) -> list[str]:
    """The tokens of the sign-in links e-mailed to ``email`` (newest last)."""
    async with seed.database.read_session() as session:
        bodies = await session.scalars(
            select(MailMessage.text_body)
            .where(
                MailMessage.tenant_id == seed.tenant.id,
                MailMessage.kind == "portal_sign_in",
                MailMessage.to_address == email,
            )
            .order_by(MailMessage.id)
        )
        return [found.group(1) for body in bodies if (found := _LINK.search(body))]


@dataclass
class Browser:
    """An httpx client that keeps cookies, like one browser."""

    client: httpx.AsyncClient
    base: str

    async def form_post(self, path: str, data: dict[str, str], page: str = "") -> httpx.Response:
        """POST a form with the CSRF token of the page at ``page`` (default: the base)."""
        shown = await self.client.get(page or self.base)
        return await self.client.post(path, data={"csrf_token": csrf_of(shown.text), **data})


def form_token(customer: Browser) -> str:
    """The double-submit token of the public forms (the cookie the pages set)."""
    return next(c.value for c in customer.client.cookies.jar if c.name == "exisone_portal_csrf")


def browser(app: Any, base: str, ip: str = "127.0.0.1") -> Browser:
    """A new cookie jar talking to ``app`` in-process from ``ip``."""
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    return Browser(httpx.AsyncClient(transport=transport, base_url="http://testserver"), base)


async def sign_in(app: Any, seed: Seed, base: str, email: str) -> Browser:
    """A browser signed in as ``email`` through the e-mailed link."""
    customer = browser(app, base)
    asked = await customer.form_post(f"{base}/sign-in", {"email": email})
    assert asked.status_code == 200, asked.text
    token = (await link_tokens(seed, email.strip().lower()))[-1]
    confirm = await customer.client.get(f"{base}/link", params={"token": token})
    assert confirm.status_code == 200, confirm.text
    used = await customer.client.post(
        f"{base}/link", data={"csrf_token": csrf_of(confirm.text), "token": token}
    )
    assert used.status_code == 302 and used.headers["location"] == f"{base}/licenses", used.text
    return customer
