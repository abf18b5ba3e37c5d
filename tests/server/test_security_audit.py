"""The audit log records every publisher action (who, what, when, from which IP) in the action's
transaction; ``GET /api/audit`` lists it; no route and no SQL statement can change it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from exisone_server.audit import Actor, acting_as, record_audit
from exisone_server.auth import Permission, create_access_token
from exisone_server.crypto.master_key import MasterKey
from exisone_server.crypto.service import rotate_crypto_key
from exisone_server.models import AuditEvent

from .helpers import assert_error
from .seeding import Seed
from .test_security_access import api_routes


async def _events(seed: Seed, **params: object) -> list[dict[str, object]]:
    response = await seed.api.get("/api/audit", params={"pageSize": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_publisher_actions_are_listed_with_actor_ip_and_time(seed: Seed) -> None:
    api = seed.api
    public_id = api.token.split("_")[2]
    product = (await api.post("/api/product", {"name": "Audited", "trialDays": 3})).json()
    await api.client.patch(f"/api/product/{product['id']}", json={"price": 5}, headers=api.headers)
    plan = (await api.post("/api/plan", {"name": "Gold", "features": ["X"]})).json()
    await api.post("/api/plan", {"id": plan["id"], "name": "Gold", "durationDays": 30})
    key = (
        await api.post(
            "/api/activationkey/generate", {"productName": "Audited", "email": "c@example.com"}
        )
    ).json()["activationKey"]
    await api.post(
        "/api/license/activate",
        {
            "activationKey": key,
            "hardwareId": "d1",
            "productName": "Audited",
            "email": "c@example.com",
        },
    )
    await api.post(f"/api/license/{key}/suspend", {"note": "unpaid"})
    await api.post(f"/api/license/{key}/resume")
    await api.post(f"/api/license/{key}/extend", {"expirationDate": "2040-01-01T00:00:00Z"})
    await api.client.patch(f"/api/license/{key}", json={"note": "vip"}, headers=api.headers)
    await api.post(f"/api/license/{key}/free-device", {"hardwareId": "d1"})
    await api.post("/api/license/offline-code", {"activationKey": key, "hardwareId": "d2"})
    await api.post(f"/api/license/{key}/revoke")
    await api.client.delete(f"/api/plan/{plan['id']}", headers=api.headers)

    events = await _events(seed)

    actions = [event["action"] for event in reversed(events) if event["actorType"] == "token"]
    assert actions == [
        "product.create",
        "product.update",
        "plan.create",
        "plan.update",
        "license.generate",
        "license.suspend",
        "license.resume",
        "license.extend",
        "license.update",
        "license.free_device",
        "license.offline_code",
        "license.revoke",
        "plan.delete",
    ]
    for event in events:
        if event["actorType"] == "token":
            assert event["actor"] == public_id
            assert event["ipAddress"] == "127.0.0.1"
            assert str(event["timestamp"]).endswith("Z")
    generated = next(e for e in events if e["action"] == "license.generate")
    assert (generated["targetType"], generated["target"]) == ("license", key)
    assert next(e for e in events if e["action"] == "product.update")["details"] == {
        "fields": ["price"]
    }
    # activation is a client action, not a publisher one: not in the audit log
    assert not any("activate" in str(e["action"]) for e in events)


async def test_filter_paging_and_tenant_isolation(seed: Seed) -> None:
    for n in range(5):
        await seed.api.post("/api/product", {"name": f"P{n}"})
    page = await seed.api.get(
        "/api/audit", params={"action": "product.create", "pageSize": 2, "page": 2}
    )
    body = page.json()
    assert (body["totalCount"], body["totalPages"], len(body["items"])) == (5, 3, 2)
    assert [item["details"]["name"] for item in body["items"]] == ["P2", "P1"]
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    assert all(event["action"] != "product.create" for event in await _events(other))
    assert_error(await seed.api.get("/api/audit", params={"pageSize": 0}), 400, "invalid_request")


async def test_the_audit_log_needs_admin(seed: Seed) -> None:
    token = await seed.token(Permission.GENERATE, Permission.VERIFY, Permission.EMAIL)
    assert_error(await seed.api_with(token).get("/api/audit"), 403, "permission_denied")


async def test_token_creation_and_key_rotation_are_recorded_without_secrets(seed: Seed) -> None:
    with acting_as(Actor("user", "owner@example.com", "198.51.100.7")):
        async with seed.database.write() as session:
            issued = await create_access_token(
                session, tenant_id=seed.tenant.id, name="ci", permissions=["verify"]
            )
            await rotate_crypto_key(session, seed.tenant.id, seed.master_key)
    events = await _events(seed)
    created = next(e for e in events if e["action"] == "token.create" and e["actorType"] == "user")
    assert created["actor"] == "owner@example.com" and created["ipAddress"] == "198.51.100.7"
    assert created["target"] == issued.token.split("_")[2]
    assert issued.token.split("_", 3)[3] not in str(events)  # the secret is nowhere
    assert any(e["action"] == "crypto_key.create" and e["actorType"] == "user" for e in events)


async def test_no_route_changes_the_audit_log(app: Litestar) -> None:
    audit_routes = [(method, path) for method, path, _ in api_routes(app) if "audit" in path]
    assert sorted(audit_routes) == [("GET", "/api/audit"), ("GET", "/dashboard/audit")]


async def test_the_database_refuses_to_change_or_delete_audit_rows(seed: Seed) -> None:
    async with seed.database.write() as session:
        event = await record_audit(
            session, seed.tenant.id, "test.event", details={"password": "x", "ok": 1}
        )
    assert event.details == {"ok": 1}  # secret-looking detail keys are dropped
    for statement in (
        update(AuditEvent).where(AuditEvent.id == event.id).values(action="forged"),
        delete(AuditEvent).where(AuditEvent.id == event.id),
    ):
        with pytest.raises((DBAPIError, IntegrityError)):
            async with seed.database.write() as session:
                await session.execute(statement)
    async with seed.database.read_session() as session:
        assert (
            await session.scalar(select(AuditEvent.action).where(AuditEvent.id == event.id))
            == "test.event"
        )


async def test_a_failed_action_leaves_no_audit_row(seed: Seed) -> None:
    await seed.api.post("/api/product", {"name": "Dup"})
    response = await seed.api.post("/api/product", {"name": "Dup"})
    assert_error(response, 409, "product_exists")
    events = await _events(seed, action="product.create")
    assert len(events) == 1


async def test_dashboard_actions_are_attributed_to_the_logged_in_user(seed: Seed) -> None:
    from exisone_server.dashboard.accounts import create_user

    from .test_security_headers import _login

    async with seed.database.write() as session:
        await create_user(session, seed.tenant.id, "boss@example.com", "correct horse battery")
    assert (await _login(seed.client, "boss@example.com", "correct horse battery")).status_code in (
        302,
        303,
    )
    page = await seed.client.get("/dashboard/products")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    created = await seed.client.post(
        "/dashboard/products",
        data={
            "csrf_token": csrf.group(1),
            "name": "FromDashboard",
            "trial_days": "0",
            "default_license_days": "0",
        },
        follow_redirects=False,
    )
    assert created.status_code in (302, 303), created.text

    events = await _events(seed, action="product.create")

    assert [(e["actorType"], e["actor"], e["ipAddress"]) for e in events] == [
        ("user", "boss@example.com", "127.0.0.1")
    ]
    assert events[0]["details"] == {"name": "FromDashboard"}
    # the dashboard lists the log; it offers nothing that changes it
    listing = await seed.client.get("/dashboard/audit")
    assert listing.status_code == 200
    assert "product.create" in listing.text and "boss@example.com" in listing.text
    forms = re.findall(r'<form[^>]*action="([^"]*)"', listing.text)
    assert not [action for action in forms if "audit" in action]
    assert (await seed.client.post("/dashboard/audit", follow_redirects=False)).status_code == 405


async def test_the_cli_records_token_revocation(seed: Seed, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from exisone_server.cli import main

    token = await seed.token(Permission.VERIFY)
    url = seed.database.engine.url.render_as_string(hide_password=False)
    arguments = ["--data-dir", str(tmp_path), "--database-url", url, "token", "revoke", token]
    environment = {"EXISONE_MASTER_KEY": MasterKey.generate_base64()}
    result = await asyncio.to_thread(CliRunner().invoke, main, arguments, env=environment)
    assert result.exit_code == 0, result.output
    events = await _events(seed, action="token.revoke")
    assert [(e["actorType"], e["target"]) for e in events] == [("cli", token.split("_")[2])]
