"""What a signed-in customer sees and does (in-process, both databases): licenses, devices,
releases under the product's rules, offline codes, the key, and nothing of anyone else's."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from exisone.protocol import verify_offline_code
from exisone_server.models import (
    Activation,
    AuditEvent,
    HistoryAction,
    LicenseHistory,
    WebhookEndpoint,
    WebhookEvent,
)

from ..server.helpers import activate_body
from ..server.seeding import Seed
from .helpers import Browser, browser, csrf_of, open_portal, sign_in

_MESSAGE = re.compile(r'<p class="message (ok|error)" role="\w+">([^<]*)</p>')


def _address() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.com"


def _message(html: str) -> tuple[str, str]:
    found = _MESSAGE.search(html)
    assert found, "no message on the page"
    return found.group(1), found.group(2)


async def _post(customer: Browser, path: str, page: str, **data: str) -> Any:
    """POST a form of ``page`` (its CSRF token) and follow the redirect, if any."""
    shown = await customer.client.get(page)
    answer = await customer.client.post(path, data={"csrf_token": csrf_of(shown.text), **data})
    if answer.status_code == 302:
        return await customer.client.get(answer.headers["location"])
    return answer


async def _audit_actions(seed: Seed) -> list[str]:
    async with seed.database.read_session() as session:
        return list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.tenant_id == seed.tenant.id, AuditEvent.actor_type == "customer")
                .order_by(AuditEvent.seq)
            )
        )


async def _device_ids(seed: Seed, license_id: int) -> dict[str, int]:
    async with seed.database.read_session() as session:
        rows = await session.execute(
            select(Activation.hardware_id, Activation.id).where(
                Activation.license_id == license_id, Activation.deactivated_at.is_(None)
            )
        )
        return {hardware_id: activation_id for hardware_id, activation_id in rows}


async def test_the_customer_sees_their_licenses_and_devices_only(app: Any, seed: Seed) -> None:
    email = _address()
    plan = await seed.plan("Team", features=("Export", "Cloud"))
    product = await seed.product(name="Studio")
    other_product = await seed.product(name="Viewer")
    team = await seed.license(product, email=email, plan=plan, is_corporate=True, max_seats=5)
    single = await seed.license(other_product, email=email.upper())
    strangers = await seed.license(product, email=_address())
    long_id = "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6"
    for device, version in ((long_id, "2.1.0"), ("LAPTOP-2", None)):
        body = activate_body(team, product, device, version=version) if version else None
        answer = await seed.api.post(
            "/api/license/activate", body or activate_body(team, product, device)
        )
        assert answer.status_code == 200, answer.text
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)

    listing = (await customer.client.get(f"{base}/licenses")).text
    detail = (await customer.client.get(f"{base}/licenses/{team.id}")).text

    assert "Studio" in listing and "Viewer" in listing
    assert f"/licenses/{team.id}" in listing and f"/licenses/{single.id}" in listing
    assert f"/licenses/{strangers.id}" not in listing
    assert "2 of 5 in use" in listing and "0 of 1 in use" in listing
    assert "Cloud, Export" in listing
    assert team.activation_key not in listing and "XXXX-XXXX-XXXX-" + team.activation_key[-4:] in (
        listing
    )
    assert "A1B2C3D4…C5D6" in detail and f'title="{long_id}"' in detail
    assert "2.1.0" in detail and detail.count("Release this device<span") == 2
    assert "Renew" not in detail  # no payment provider connected


async def test_release_frees_the_seat_at_once_and_the_cooldown_refuses_the_next(
    app: Any, seed: Seed
) -> None:
    email = _address()
    product = await seed.product(name="Studio", deactivation_cooldown_hours=24)
    license = await seed.license(product, email=email, is_corporate=True, max_seats=2)
    for device in ("OLD-PC", "SECOND-PC"):
        await seed.api.post("/api/license/activate", activate_body(license, product, device))
    hook = await seed.api.post(
        "/api/webhook", {"url": "https://hooks.example.com/in", "events": ["device.deactivated"]}
    )
    assert hook.status_code == 201, hook.text
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    page = f"{base}/licenses/{license.id}"
    devices = await _device_ids(seed, license.id)

    try:
        released = await _post(customer, f"{page}/release", page, device=str(devices["OLD-PC"]))

        assert _message(released.text) == (
            "ok",
            "Device released: its seat is free for another machine.",
        )
        assert "1 of 2 in use" in released.text
        moved = await seed.api.post(
            "/api/license/activate", activate_body(license, product, "NEW-PC")
        )
        assert moved.status_code == 200, moved.text  # the seat is free in the API at once
        async with seed.database.read_session() as session:
            history = (
                await session.execute(
                    select(LicenseHistory).where(
                        LicenseHistory.license_id == license.id,
                        LicenseHistory.action == HistoryAction.DEACTIVATED,
                    )
                )
            ).scalar_one()
            events = [
                json.loads(body)
                for body in await session.scalars(
                    select(WebhookEvent.body).where(WebhookEvent.tenant_id == seed.tenant.id)
                )
            ]
        assert (history.actor, history.hardware_id) == ("customer", "OLD-PC")
        assert [event["type"] for event in events] == ["device.deactivated"]
        assert events[0]["data"]["hardwareId"] == "OLD-PC"

        refused = await _post(customer, f"{page}/release", page, device=str(devices["SECOND-PC"]))

        lifts = (history.created_at + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
        kind, text = _message(refused.text)
        assert kind == "error" and "less than 24 hours ago" in text and lifts in text
        assert "The next release is possible from <time datetime=" in refused.text
        assert lifts in refused.text.split('id="release-rules"')[1]
        assert "SECOND-PC" in await _device_ids(seed, license.id)
        assert await _audit_actions(seed) == ["portal.sign_in", "portal.release"]
    finally:
        async with seed.database.write() as session:
            await session.execute(
                delete(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seed.tenant.id)
            )


async def test_the_product_decides_what_customers_may_release(app: Any, seed: Seed) -> None:
    """No release switch: no button and a refusal; an offline code's seat: only when the
    product allows it."""
    email = _address()
    closed = await seed.product(name="Closed", customer_may_release=False)
    strict = await seed.product(name="Strict")
    lenient = await seed.product(name="Lenient", customer_may_release_offline=True)
    base = await open_portal(seed, support_address="help@shop.example")
    licenses = {}
    for product in (closed, strict, lenient):
        licenses[product.name] = await seed.license(product, email=email)
    await seed.api.post(
        "/api/license/activate", activate_body(licenses["Closed"], closed, "CLOSED-PC")
    )
    for name in ("Strict", "Lenient"):
        issued = await seed.api.post(
            "/api/license/offline-code",
            {"activationKey": licenses[name].activation_key, "hardwareId": f"{name}-AIRGAP"},
        )
        assert issued.status_code == 200, issued.text
    customer = await sign_in(app, seed, base, email)

    pages = {name: f"{base}/licenses/{license.id}" for name, license in licenses.items()}
    closed_page = (await customer.client.get(pages["Closed"])).text
    assert "Release this device" not in closed_page
    assert "write to help@shop.example" in closed_page
    closed_id = (await _device_ids(seed, licenses["Closed"].id))["CLOSED-PC"]
    refused = await _post(
        customer, f"{pages['Closed']}/release", pages["Closed"], device=str(closed_id)
    )
    assert _message(refused.text)[1].startswith("The publisher does not let customers release")

    strict_page = (await customer.client.get(pages["Strict"])).text
    assert "Only the publisher can release this device" in strict_page
    strict_id = (await _device_ids(seed, licenses["Strict"].id))["STRICT-AIRGAP"]
    refused = await _post(
        customer, f"{pages['Strict']}/release", pages["Strict"], device=str(strict_id)
    )
    assert "activated with an offline code" in _message(refused.text)[1]

    lenient_id = (await _device_ids(seed, licenses["Lenient"].id))["LENIENT-AIRGAP"]
    done = await _post(
        customer, f"{pages['Lenient']}/release", pages["Lenient"], device=str(lenient_id)
    )
    assert _message(done.text)[0] == "ok"
    assert await _device_ids(seed, licenses["Lenient"].id) == {}


async def test_an_offline_code_for_a_pasted_hardware_id(app: Any, seed: Seed) -> None:
    email = _address()
    product = await seed.product(name="Studio", version="3.0")
    license = await seed.license(product, email=email, is_corporate=True, max_seats=2)
    await seed.api.post("/api/license/activate", activate_body(license, product, "ONLINE-PC"))
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    page = f"{base}/licenses/{license.id}"

    answer = await _post(customer, f"{page}/offline-code", page, hardware_id="  airgap-01 ")

    assert answer.status_code == 200
    code = re.search(
        r'<textarea id="offline-code" readonly rows="5">([^<]+)</textarea>', answer.text
    )
    assert code
    payload = verify_offline_code(code.group(1), (await seed.public_keys()).rsa_keys).payload
    assert payload["hardwareId"] == "AIRGAP-01" and payload["productName"] == "Studio"
    download = re.search(
        r'download="([^"]+)" href="data:text/plain;charset=utf-8,([^"]+)"', answer.text
    )
    assert download and download.group(1) == "offline-code-AIRGAP-01.txt"
    assert urllib.parse.unquote(download.group(2)) == code.group(1)
    assert "2 of 2 in use" in answer.text  # it took a seat

    full = await _post(customer, f"{page}/offline-code", page, hardware_id="AIRGAP-02")
    assert full.status_code == 409
    assert _message(full.text) == (
        "error",
        "All 2 seats of this corporate license are in use; deactivate a device to free one.",
    )
    assert await _audit_actions(seed) == ["portal.sign_in", "portal.offline_code"]


async def test_the_key_is_shown_on_request_and_audited(app: Any, seed: Seed) -> None:
    email = _address()
    license = await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    page = f"{base}/licenses/{license.id}"
    assert license.activation_key not in (await customer.client.get(page)).text

    shown = await _post(customer, f"{page}/reveal", page)

    assert shown.status_code == 200
    assert f'<code class="key" id="activation-key">{license.activation_key}</code>' in shown.text
    assert await _audit_actions(seed) == ["portal.sign_in", "portal.key_reveal"]


async def test_nothing_typed_is_rendered_unescaped(app: Any, seed: Seed) -> None:
    email = _address()
    product = await seed.product(name="<script>alert('product')</script>")
    license = await seed.license(product, email=email)
    base = await open_portal(seed, display_name="<img src=x onerror=alert(1)>")
    customer = await sign_in(app, seed, base, email)
    page = f"{base}/licenses/{license.id}"
    hostile = '"><script>alert("hw")</script>'

    typed = await browser(app, base).form_post(f"{base}/sign-in", {"email": hostile})
    assert typed.status_code == 400
    pages = [
        (await customer.client.get(f"{base}/licenses")).text,
        (await customer.client.get(page)).text,
        (await _post(customer, f"{page}/offline-code", page, hardware_id=hostile * 3)).text,
        typed.text,
    ]
    assert "&#34;&gt;&lt;script&gt;alert(&#34;hw&#34;)" in pages[2].lower()
    assert "&#34;&gt;&lt;script&gt;alert(&#34;hw&#34;)" in pages[3]
    for html in pages:
        assert "<script>alert" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;product&#39;)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]
