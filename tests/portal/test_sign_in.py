"""Signing in to the customer portal (in-process, both databases): the e-mailed link, the
non-enumerating answer, the limits, single use and expiry, sessions and signing out."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from exisone_server.kit.time import utc_now
from exisone_server.models import AuditEvent, MailMessage, PortalLink, PortalSession
from exisone_server.portal.config import PortalForm, save_portal_settings
from exisone_server.portal.settings import PortalServerSettings

from ..server.seeding import Seed
from .helpers import browser, csrf_of, form_token, link_tokens, open_portal, sign_in


def _address() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.com"


async def _messages(seed: Seed, kind: str) -> list[MailMessage]:
    async with seed.database.read_session() as session:
        return list(
            await session.scalars(
                select(MailMessage).where(
                    MailMessage.tenant_id == seed.tenant.id, MailMessage.kind == kind
                )
            )
        )


async def test_a_customer_signs_in_with_the_emailed_link(app: Any, seed: Seed) -> None:
    email = _address()
    product = await seed.product(name="Studio")
    await seed.license(product, email=email.upper())  # any case
    base = await open_portal(seed)

    customer = await sign_in(app, seed, base, f"  {email} ")

    [message] = await _messages(seed, "portal_sign_in")
    assert message.to_address == email
    assert "https://licenses.example.com" + base + "/link?token=" not in message.text_body
    assert "has been used or has expired" in message.text_body  # the used link is forgotten
    listing = await customer.client.get(f"{base}/licenses")
    assert listing.status_code == 200 and "Studio" in listing.text
    cookie = next(item for item in customer.client.cookies.jar if item.name == "exisone_portal")
    assert cookie.path == base and cookie.has_nonstandard_attr("HttpOnly")
    async with seed.database.read_session() as session:
        [stored] = await session.scalars(select(PortalSession).where(PortalSession.email == email))
        assert stored.token_hash != cookie.value and len(stored.token_hash) == 64
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.tenant_id == seed.tenant.id, AuditEvent.action == "portal.sign_in"
            )
        )
    assert audit is not None and audit.actor_type == "customer" and audit.actor == email


async def test_the_link_carries_a_random_token_stored_hashed(app: Any, seed: Seed) -> None:
    email = _address()
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    customer = browser(app, base)
    await customer.form_post(f"{base}/sign-in", {"email": email})
    await customer.form_post(f"{base}/sign-in", {"email": email})

    first, second = await link_tokens(seed, email)

    assert first != second and len(first) >= 43  # 32 random bytes, URL-safe
    async with seed.database.read_session() as session:
        hashes = set(await session.scalars(select(PortalLink.token_hash)))
    assert first not in hashes and second not in hashes
    [message, _] = await _messages(seed, "portal_sign_in")
    assert "15 minutes" in message.text_body


async def test_the_answer_is_the_same_for_an_address_without_licenses(app: Any, seed: Seed) -> None:
    known, unknown = _address(), _address()
    await seed.license(await seed.product(), email=known)
    base = await open_portal(seed)
    customer = browser(app, base)

    answers = [
        await customer.form_post(f"{base}/{what}", {"email": address})
        for what in ("sign-in", "keys")
        for address in (known, unknown)
    ]

    for first, second in ((answers[0], answers[1]), (answers[2], answers[3])):
        assert first.status_code == second.status_code == 200
        assert first.text.replace(known, "ADDRESS") == second.text.replace(unknown, "ADDRESS")
    assert [m.to_address for m in await _messages(seed, "portal_sign_in")] == [known]
    assert [m.to_address for m in await _messages(seed, "your_keys")] == [known]


async def test_requests_are_limited_per_address_and_per_ip(
    app: Any, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limits count any address alike (no oracle), across the two forms."""
    monkeypatch.setenv("EXISONE_PORTAL_MAILS_PER_ADDRESS", "2")
    known, unknown = _address(), _address()
    await seed.license(await seed.product(), email=known)
    base = await open_portal(seed)
    customer = browser(app, base)
    for address in (known, unknown):
        await customer.form_post(f"{base}/sign-in", {"email": address})
        await customer.form_post(f"{base}/keys", {"email": address})

    refused = [
        await customer.form_post(f"{base}/sign-in", {"email": address})
        for address in (known, unknown)
    ]

    for answer in refused:
        assert answer.status_code == 429
        assert 0 < int(answer.headers["Retry-After"]) <= 3600
        assert "Too many requests" in answer.text
    assert len(await _messages(seed, "portal_sign_in")) == 1

    monkeypatch.setenv("EXISONE_PORTAL_REQUESTS_PER_IP", "3")
    ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    other = browser(app, base, ip=ip)
    answers = [
        (await other.form_post(f"{base}/keys", {"email": _address()})).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]


async def test_a_link_works_once_and_for_15_minutes(app: Any, seed: Seed) -> None:
    email = _address()
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    first = browser(app, base)
    await first.form_post(f"{base}/sign-in", {"email": email})
    await first.form_post(f"{base}/sign-in", {"email": email})
    used, expired = await link_tokens(seed, email)
    shown = await first.client.get(f"{base}/link", params={"token": used})
    assert (
        await first.client.post(
            f"{base}/link", data={"csrf_token": csrf_of(shown.text), "token": used}
        )
    ).status_code == 302

    again_page = await first.client.get(f"{base}/link", params={"token": used})
    again = await first.client.post(
        f"{base}/link", data={"csrf_token": form_token(first), "token": used}
    )
    async with seed.database.write() as session:  # 15 minutes and a second later
        for link in await session.scalars(
            select(PortalLink).where(PortalLink.email == email, PortalLink.used_at.is_(None))
        ):
            assert link.expires_at - link.created_at == timedelta(minutes=15)
            link.expires_at = utc_now() - timedelta(seconds=1)
    late_page = await first.client.get(f"{base}/link", params={"token": expired})
    late = await first.client.post(
        f"{base}/link", data={"csrf_token": form_token(first), "token": expired}
    )

    for answer in (again_page, again, late_page, late):
        assert answer.status_code == 410 and "This link cannot be used" in answer.text
    assert "exisone_portal" not in {c.name for c in browser(app, base).client.cookies.jar}


async def test_a_link_of_one_portal_does_not_open_another(app: Any, seed: Seed) -> None:
    email = _address()
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    other_seed = await Seed.create(seed.database, seed.master_key, seed.client)
    await other_seed.license(await other_seed.product(), email=email)
    other_base = await open_portal(other_seed)
    customer = browser(app, base)
    await customer.form_post(f"{base}/sign-in", {"email": email})
    [token] = await link_tokens(seed, email)

    elsewhere = browser(app, other_base)
    shown = await elsewhere.client.get(f"{other_base}/link", params={"token": token})
    used = await elsewhere.client.post(
        f"{other_base}/link", data={"csrf_token": form_token(elsewhere), "token": token}
    )

    assert shown.status_code == used.status_code == 410


async def test_sign_out_and_sign_out_everywhere(app: Any, seed: Seed) -> None:
    email = _address()
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    laptop = await sign_in(app, seed, base, email)
    phone = await sign_in(app, seed, base, email)
    tablet = await sign_in(app, seed, base, email)
    page = await laptop.client.get(f"{base}/licenses")

    out = await laptop.client.post(f"{base}/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 302 and out.headers["location"] == base
    assert (await laptop.client.get(f"{base}/licenses")).status_code == 302
    assert (await phone.client.get(f"{base}/licenses")).status_code == 200

    page = await phone.client.get(f"{base}/licenses")
    everywhere = await phone.client.post(
        f"{base}/sign-out-everywhere", data={"csrf_token": csrf_of(page.text)}
    )
    assert everywhere.status_code == 302
    for device in (phone, tablet):
        answer = await device.client.get(f"{base}/licenses")
        assert answer.status_code == 302 and answer.headers["location"] == base


async def test_forms_without_their_csrf_token_are_refused(app: Any, seed: Seed) -> None:
    email = _address()
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    stranger = browser(app, base)
    await stranger.client.get(base)  # has the form cookie, sends no token
    forged = await stranger.client.post(f"{base}/sign-in", data={"email": email})
    assert forged.status_code == 403
    cross_site = await stranger.client.post(
        f"{base}/sign-in",
        data={"email": email, "csrf_token": stranger.client.cookies["exisone_portal_csrf"]},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert await _messages(seed, "portal_sign_in") == []

    customer = await sign_in(app, seed, base, email)
    refused = await customer.client.post(f"{base}/sign-out-everywhere", data={})
    assert refused.status_code == 403
    assert (await customer.client.get(f"{base}/licenses")).status_code == 200


async def test_a_portal_that_is_off_or_unknown_is_not_found(app: Any, seed: Seed) -> None:
    base = await open_portal(seed)
    async with seed.database.write() as session:
        await save_portal_settings(
            session,
            seed.tenant.id,
            PortalForm(enabled=False, slug=base.rsplit("/", 1)[1]),
            PortalServerSettings(),
        )
    visitor = browser(app, base)
    for path in (base, f"{base}/licenses", "/portal/no-such-portal", f"{base}/theme.css"):
        answer = await visitor.client.get(path)
        assert answer.status_code == 404, path
        assert "There is no customer portal at this address." in answer.text
