"""The dashboard's screens in-process: each action through the form, checked in the database."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from exisone import ExisOneClient
from exisone.protocol import load_trusted_keys
from exisone_server.auth.tokens import hash_secret, parse_token
from exisone_server.crypto.master_key import MasterKey
from exisone_server.kit.time import utc_now
from exisone_server.models import (
    AccessToken,
    CryptoKey,
    KeyAlgorithm,
    License,
    LicenseStatus,
    Plan,
    Product,
    SupportTicket,
    Trial,
)
from exisone_server.tenants.service import create_tenant

from ..server.seeding import Seed
from .helpers import csrf_of, login


async def _post(client: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf_token": token, **fields})


def _field(pattern: str, page: str) -> str:
    """The unescaped first group of ``pattern`` in ``page`` (which must match)."""
    found = re.search(pattern, page)
    assert found, f"{pattern!r} not on the page"
    return html.unescape(found.group(1))


def _pem(key: Any) -> str:
    return str(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode())


def _message(page: str) -> str:
    found = re.search(r'class="message (ok|error)"[^>]*>([^<]*)<', page)
    assert found, "no message on the page"
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


async def test_product_create_edit_and_plain_errors(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    fields = {
        "name": "Editor",
        "version": "2.0.0",
        "minimum_required_version": "1.5.0",
        "enforce_version_check": "1",
        "is_active": "1",
        "trial_days": "14",
        "default_license_days": "365",
    }
    created = await _post(client, "/dashboard/products", "/dashboard/products", **fields)
    assert created.status_code == 302
    listing = await client.get("/dashboard/products")
    assert _message(listing.text) == "ok: Product 'Editor' created."
    async with seed.database.read_session() as session:
        product = await session.scalar(select(Product).where(Product.tenant_id == seed.tenant.id))
    assert product is not None
    assert (product.version, product.minimum_required_version) == ("2.0.0", "1.5.0")
    assert product.enforce_version_check and product.trial_days == 14
    assert product.default_license_days == 365

    edit = f"/dashboard/products/{product.id}"
    saved = await _post(client, edit, edit, **{**fields, "trial_days": "30", "version": "2.1.0"})
    assert saved.status_code == 302
    duplicate = await _post(client, "/dashboard/products", "/dashboard/products", **fields)
    assert "already exists" in _message((await client.get(duplicate.headers["location"])).text)
    bad = await _post(client, edit, edit, **{**fields, "trial_days": "soon"})
    assert _message((await client.get(bad.headers["location"])).text) == (
        "error: Trial days must be a whole number."
    )
    async with seed.database.read_session() as session:
        again = await session.get(Product, product.id)
    assert again is not None and again.trial_days == 30 and again.version == "2.1.0"


async def test_plan_with_features_and_seats(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    answer = await _post(
        client,
        "/dashboard/plans",
        "/dashboard/plans",
        name="Site licence",
        duration_days="365",
        features="Export, Pro",
        is_corporate="1",
        max_seats="25",
        is_active="1",
    )
    assert answer.status_code == 302
    async with seed.database.read_session() as session:
        plan = await session.scalar(select(Plan).where(Plan.tenant_id == seed.tenant.id))
    assert plan is not None
    assert (plan.duration_days, plan.is_corporate, plan.max_seats) == (365, True, 25)
    listing = await client.get("/dashboard/plans")
    assert "Export, Pro" in listing.text and "Plan &#39;Site licence&#39; created." in listing.text


async def test_generate_many_and_corporate_keys(seed: Seed, client: httpx.AsyncClient) -> None:
    await seed.product("Suite")
    async with seed.database.write() as session:
        corporate = Plan(
            tenant_id=seed.tenant.id, name="Corp", is_corporate=True, max_seats=10, features=[]
        )
        session.add(corporate)
    await login(client, seed.database, seed.tenant.id)
    many = await _post(
        client,
        "/dashboard/keys",
        "/dashboard/keys/generate",
        product_name="Suite",
        email="buyer@example.com",
        count="3",
        validity_days="30",
    )
    corp = await _post(
        client,
        "/dashboard/keys",
        "/dashboard/keys/generate",
        product_name="Suite",
        email="it@example.com",
        plan_id=str(corporate.id),
        count="1",
    )
    refused = await _post(
        client,
        "/dashboard/keys",
        "/dashboard/keys/generate",
        product_name="Nope",
        email="it@example.com",
        count="1",
    )
    assert many.status_code == 200 and "Generated 3 keys." in many.text
    assert "corporate, 10 seats" in corp.text
    assert refused.status_code == 400 and "No product named &#39;Nope&#39;" in refused.text
    async with seed.database.read_session() as session:
        rows = list(
            await session.scalars(select(License).where(License.tenant_id == seed.tenant.id))
        )
    assert len(rows) == 4
    assert sorted(row.is_corporate for row in rows) == [False, False, False, True]
    searched = await client.get("/dashboard/keys", params={"q": "it@example"})
    assert searched.text.count('class="badge active"') == 1
    filtered = await client.get("/dashboard/keys", params={"status": "revoked"})
    assert "No keys match." in filtered.text


async def test_key_actions_and_offline_code(seed: Seed, client: httpx.AsyncClient) -> None:
    product = await seed.product("Offline", version="1.0")
    license = await seed.license(product, validity_days=10)
    key = license.activation_key
    page = f"/dashboard/keys/{key}"
    await login(client, seed.database, seed.tenant.id)

    offline = await _post(client, page, f"{page}/offline-code", hardware_id="air-gap-7")
    assert offline.status_code == 200, offline.text
    code = _field(r'id="offline-code"[^>]*>([^<]+)<', offline.text)
    crypto = await client.get("/dashboard/crypto")
    pem = _field(r'id="public-key"[^>]*>([^<]+)<', crypto.text)
    checked = ExisOneClient(base_url="https://unused.example", offline_public_key=pem)
    result = checked.validate_offline(code, "AIR-GAP-7")
    assert result.is_valid, result.error_message
    assert result.product_name == "Offline"
    assert not checked.validate_offline(code, "another-device").is_valid
    checked.close()

    suspended = await _post(client, page, f"{page}/suspend")
    assert _message((await client.get(suspended.headers["location"])).text) == "ok: Key suspended."
    extended = await _post(client, page, f"{page}/extend", mode="days", days="30")
    detail = await client.get(extended.headers["location"])
    assert _message(detail.text).startswith("ok: Key now expires")
    freed = await _post(client, page, f"{page}/free", hardware_id="AIR-GAP-7")
    assert "Device freed" in _message((await client.get(freed.headers["location"])).text)
    twice = await _post(client, page, f"{page}/free", hardware_id="AIR-GAP-7")
    assert "holds no seat" in _message((await client.get(twice.headers["location"])).text)
    revoked = await _post(client, page, f"{page}/revoke")
    assert revoked.status_code == 302
    again = await _post(client, page, f"{page}/suspend")
    assert "Cannot suspend a revoked license" in _message(
        (await client.get(again.headers["location"])).text
    )
    async with seed.database.read_session() as session:
        row = await session.get(License, license.id)
    assert row is not None and row.status is LicenseStatus.REVOKED
    assert row.expires_at is not None and row.expires_at > utc_now() + timedelta(days=35)
    history = (await client.get(page)).text
    for event in ("offline_code_issued", "suspended", "renewed", "deactivated", "revoked"):
        assert f"<strong>{event}</strong>" in history


async def test_token_secret_is_shown_once(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    token_page = await client.get("/dashboard/tokens")
    created = await client.post(
        "/dashboard/tokens",
        data={
            "csrf_token": csrf_of(token_page.text),
            "name": "Build server",
            "permissions": ["verify", "generate"],
            "expires_days": "30",
        },
    )
    assert created.status_code == 200
    secret = _field(r'id="token-secret" readonly value="([^"]+)"', created.text)
    assert secret.startswith("exo_at_")
    assert secret not in (await client.get("/dashboard/tokens")).text
    async with seed.database.read_session() as session:
        record = await session.scalar(select(AccessToken).where(AccessToken.name == "Build server"))
    assert record is not None and record.permissions == ["generate", "verify"]
    parsed = parse_token(secret)
    assert parsed is not None and record.secret_hash == hash_secret(parsed[1])
    assert parsed[1] not in record.secret_hash
    api = await client.post(
        "/api/license/validate",
        json={"activationKey": "NOPE-NOPE-NOPE-NOPE", "hardwareId": "x", "productName": "x"},
        headers={"Authorization": f"ExisOneApi {secret}"},
    )
    assert api.status_code != 401

    revoked = await _post(client, "/dashboard/tokens", f"/dashboard/tokens/{record.id}/revoke")
    assert "revoked" in _message((await client.get(revoked.headers["location"])).text)
    after = await client.post(
        "/api/license/validate",
        json={"activationKey": "NOPE-NOPE-NOPE-NOPE", "hardwareId": "x", "productName": "x"},
        headers={"Authorization": f"ExisOneApi {secret}"},
    )
    assert after.status_code == 401
    empty = await _post(client, "/dashboard/tokens", "/dashboard/tokens", name="none")
    assert empty.status_code == 400 and "Choose at least one permission." in empty.text


async def test_crypto_download_and_rotate(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    first = await client.get("/dashboard/crypto/public.pem")
    assert first.status_code == 200 and first.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert "attachment" in first.headers["content-disposition"]
    rotated = await _post(client, "/dashboard/crypto", "/dashboard/crypto/rotate")
    assert _message((await client.get(rotated.headers["location"])).text).startswith("ok: New key")
    second = await client.get("/dashboard/crypto/public.pem")
    assert second.text != first.text
    async with seed.database.read_session() as session:
        keys = list(
            await session.scalars(
                select(CryptoKey).where(
                    CryptoKey.tenant_id == seed.tenant.id, CryptoKey.algorithm == KeyAlgorithm.RSA
                )
            )
        )
    assert sorted(key.is_current for key in keys) == [False, True]


async def test_crypto_lease_tokens_switch(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    page = (await client.get("/dashboard/crypto")).text
    first = _field(r'id="lease-public-key"[^>]*>([^<]+)<', page)
    assert "Sign with the RSA key" in page

    to_rsa = await _post(
        client, "/dashboard/crypto", "/dashboard/crypto/lease-tokens", algorithm="rsa"
    )
    page = (await client.get(to_rsa.headers["location"])).text
    assert _message(page) == "ok: Lease tokens are signed with the RSA key now."
    assert 'id="lease-public-key"' not in page and "Sign with an Ed25519 key" in page

    back = await _post(
        client, "/dashboard/crypto", "/dashboard/crypto/lease-tokens", algorithm="ed25519"
    )
    page = (await client.get(back.headers["location"])).text
    assert _message(page).startswith("ok: Lease tokens are signed with the new Ed25519 key")
    assert _field(r'id="lease-public-key"[^>]*>([^<]+)<', page) != first
    async with seed.database.read_session() as session:
        current = list(
            await session.scalars(
                select(CryptoKey.algorithm).where(
                    CryptoKey.tenant_id == seed.tenant.id, CryptoKey.is_current
                )
            )
        )
    assert sorted(current) == [KeyAlgorithm.ED25519, KeyAlgorithm.RSA]

    wrong = await _post(
        client, "/dashboard/crypto", "/dashboard/crypto/lease-tokens", algorithm="dsa"
    )
    assert wrong.status_code == 400 and "Choose rsa or ed25519." in wrong.text

    download = await client.get("/dashboard/crypto/public-keys.pem")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    trusted = load_trusted_keys(download.text)  # the RSA key, both Ed25519 keys
    assert (len(trusted.rsa_keys), len(trusted.lease_keys)) == (1, 3)
    current = _field(r'id="lease-public-key"[^>]*>([^<]+)<', page)
    assert [_pem(key) for key in trusted.lease_keys[:2]].count(current) == 1  # current first
    assert _pem(trusted.rsa_keys[0]) == _field(r'id="public-key"[^>]*>([^<]+)<', page)


async def test_tickets_inbox_and_resolve(seed: Seed, client: httpx.AsyncClient) -> None:
    sent = await seed.api.post(
        "/api/support/ticket",
        {
            "productName": "Any",
            "email": "c@example.com",
            "subject": "Crash on start",
            "message": "<b>help</b>",
        },
    )
    ticket_id = sent.json()["ticketId"]
    await login(client, seed.database, seed.tenant.id)
    inbox = await client.get("/dashboard/tickets")
    assert "Crash on start" in inbox.text
    home = await client.get("/dashboard/")
    assert re.search(r'id="open-tickets">1<', home.text)
    page = f"/dashboard/tickets/{ticket_id}"
    ticket = await client.get(page)
    assert "&lt;b&gt;help&lt;/b&gt;" in ticket.text  # escaped, never HTML
    resolved = await _post(client, page, page, resolved="1")
    assert _message((await client.get(resolved.headers["location"])).text) == (
        "ok: Ticket marked resolved."
    )
    async with seed.database.read_session() as session:
        row = await session.get(SupportTicket, ticket_id)
    assert row is not None and row.is_closed
    assert "Crash on start" not in (await client.get("/dashboard/tickets")).text
    assert "Crash on start" in (await client.get("/dashboard/tickets?show=resolved")).text


async def test_activity_and_trial_expiration(seed: Seed, client: httpx.AsyncClient) -> None:
    product = await seed.product("Trialware", trial_days=7)
    async with seed.database.write() as session:
        trial = Trial(product_id=product.id, hardware_id="TRIAL-DEVICE", expires_at=utc_now())
        session.add(trial)
    license = await seed.license(product)
    activated = await seed.api.post(
        "/api/license/activate",
        {
            "activationKey": license.activation_key,
            "email": "u@example.com",
            "hardwareId": "DEVICE-ONE",
            "productName": "Trialware",
            "version": "1.0",
        },
    )
    assert activated.status_code == 200, activated.text
    await login(client, seed.database, seed.tenant.id)
    activity = await client.get("/dashboard/activity")
    assert "DEVICE-ONE" in activity.text and "TRIAL-DEVICE" in activity.text
    changed = await _post(
        client,
        "/dashboard/activity",
        f"/dashboard/activity/trials/{trial.id}",
        expiration_date="2031-05-01",
    )
    assert "2031-05-01" in _message((await client.get(changed.headers["location"])).text)
    wrong = await _post(
        client,
        "/dashboard/activity",
        f"/dashboard/activity/trials/{trial.id}",
        expiration_date="next week",
    )
    assert "not an ISO 8601 date" in _message((await client.get(wrong.headers["location"])).text)
    home = await client.get("/dashboard/")
    assert re.search(r'id="active-licenses">1<', home.text)
    assert home.text.count('<rect class="activations"') == 30


async def test_home_counts_validations_per_day(seed: Seed, client: httpx.AsyncClient) -> None:
    product = await seed.product()
    license = await seed.license(product)
    body = {
        "activationKey": license.activation_key,
        "hardwareId": "HOME-1",
        "productName": product.name,
    }
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    for key in (license.activation_key, "AAAA-BBBB-CCCC-DDDD", license.activation_key):
        answer = await seed.api.post("/api/license/validate", {**body, "activationKey": key})
        assert answer.status_code == 200
    other = await Seed.create(seed.database, seed.master_key, seed.client)  # not counted here
    await other.api.post("/api/license/validate", {"hardwareId": "X", "activationKey": "K"})
    await login(client, seed.database, seed.tenant.id)

    page = (await client.get("/dashboard/")).text

    assert _field(r'id="validations-total">(\d+)<', page) == "3"  # any outcome counts
    today = utc_now().date().isoformat()
    assert f"{today}: 3 validations" in page


async def test_settings_show_the_tenant_id_and_name(
    seed: Seed, client: httpx.AsyncClient, master_key: MasterKey
) -> None:
    answer = await client.get("/dashboard/settings")
    assert (answer.status_code, answer.headers["location"]) == (302, "/dashboard/login")

    async with seed.database.write() as session:
        other = await create_tenant(session, f"O'Neil & Co {seed.tenant.id}", master_key)
    await login(client, seed.database, other.id)
    page = (await client.get("/dashboard/settings")).text
    assert _field(r'id="tenant-id" readonly value="([^"]*)"', page) == str(other.id)
    assert _field(r'id="tenant-name">([^<]*)<', page) == other.name
    assert '<a href="/dashboard/settings" aria-current="page">Settings</a>' in page
    assert f'value="{seed.tenant.id}"' not in page
