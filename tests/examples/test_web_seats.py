"""examples/web_seats: per-user seats of one corporate key, through the app's ASGI test client,
against a real exisone-server on loopback (sign-up activates, sign-in validates, removal frees).
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.examples.live_server import DemoServer

APP = Path(__file__).resolve().parents[2] / "examples" / "web_seats" / "app.py"
SEATS = 7
ADMIN = {"X-Admin-Token": "admin-secret"}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_seats_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


web_seats = load_example()


def corporate_key(server: DemoServer, seats: int) -> str:
    with server.publisher() as http:
        plan = http.post(
            "/api/plan",
            json={
                "name": f"Team {seats} {uuid.uuid4().hex[:8]}",
                "isCorporate": True,
                "maxSeats": seats,
                "productId": server.demo["productId"],
                "durationDays": 0,
                "features": ["Pro", "Export"],
            },
        )
        assert plan.status_code in (200, 201), plan.text
        key = http.post(
            "/api/activationkey/generate",
            json={
                "productName": server.product,
                "email": "it@example.com",
                "planId": plan.json()["id"],
            },
        )
    assert key.status_code == 200, key.text
    return str(key.json()["activationKey"])


@pytest.fixture
async def app_client(
    server: DemoServer, tmp_path: Path
) -> AsyncIterator[tuple[AsyncTestClient[Any], str]]:
    key = corporate_key(server, SEATS)
    settings = web_seats.Settings(
        license_server_url=server.base_url,
        license_token=server.token,
        corporate_key=key,
        product_name=server.product,
        admin_token="admin-secret",
        database=tmp_path / "users.db",
        app_version="1.2.0",
        license_state_dir=tmp_path / "license-state",
    )
    async with AsyncTestClient(app=web_seats.create_app(settings)) as client:
        yield client, key


def server_activations(server: DemoServer, key: str) -> set[str]:
    """Hardware IDs holding a seat of ``key``, as the license server sees them."""
    with server.publisher() as http:
        detail = http.get(f"/api/license/{key}").json()
    return {item["hardwareId"] for item in detail["activations"] if item["isActive"]}


async def sign_up(client: AsyncTestClient[Any], name: str) -> Any:
    return await client.post(
        "/signup", json={"email": f"{name}@corp.example", "password": "correct horse"}
    )


async def test_sign_up_sign_in_removal_and_the_admin_page(
    app_client: tuple[AsyncTestClient[Any], str], server: DemoServer, tmp_path: Path
) -> None:
    client, key = app_client

    alice = await sign_up(client, "alice")
    assert alice.status_code == 201, alice.text
    users = web_seats.Users(tmp_path / "users.db")
    alice_id = users.by_email("alice@corp.example").license_hardware_id
    assert server_activations(server, key) == {alice_id.upper()}
    page = await client.get("/admin", headers=ADMIN)
    assert "Seats: 1 of 7 used" in page.text and "warning" not in page.text

    assert (await sign_up(client, "bob")).status_code == 201
    page = await client.get("/admin", headers=ADMIN)
    assert "Seats: 2 of 7 used" in page.text
    assert "Only 5 seats left" in page.text  # the warning starts at 5 remaining
    assert (await client.get("/admin")).status_code == 401

    signed_in = await client.post(
        "/signin", json={"email": "alice@corp.example", "password": "correct horse"}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json() == {
        "email": "alice@corp.example",
        "license": "licensed",
        "features": ["Export", "Pro"],
    }
    wrong = await client.post(
        "/signin", json={"email": "alice@corp.example", "password": "wrong pass"}
    )
    assert wrong.status_code == 401
    assert len(server_activations(server, key)) == 2  # signing in takes no seat

    bob = users.by_email("bob@corp.example")
    removed = await client.delete(f"/admin/users/{bob.id}", headers=ADMIN)
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"removed": "bob@corp.example", "seatFreed": True}
    assert server_activations(server, key) == {alice_id.upper()}
    assert (await client.get("/admin/seats", headers=ADMIN)).json()["used"] == 1

    # The publisher frees Alice's device on the license server: she is refused at sign-in.
    with server.publisher() as http:
        freed = http.post(f"/api/license/{key}/free-device", json={"hardwareId": alice_id})
    assert freed.status_code == 200, freed.text
    refused = await client.post(
        "/signin", json={"email": "alice@corp.example", "password": "correct horse"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "not_licensed"


async def test_no_seat_no_account(
    app_client: tuple[AsyncTestClient[Any], str], tmp_path: Path
) -> None:
    client, _ = app_client
    for index in range(SEATS):
        assert (await sign_up(client, f"user{index}")).status_code == 201

    refused = await sign_up(client, "one-too-many")

    assert refused.status_code == 409
    assert refused.json()["error"] == "no_seat"
    assert web_seats.Users(tmp_path / "users.db").by_email("one-too-many@corp.example") is None
    seats = (await client.get("/admin/seats", headers=ADMIN)).json()
    assert seats["used"] == SEATS and seats["remaining"] == 0
