"""examples/web_seats: a floating seat per signed-in user, through the app's ASGI test client,
against the SDK's test kit serving floating seats over a real loopback socket (sign-in leases,
requests keep the session, sign-out and idleness give the seat back, a seat taken back by the
publisher ends the session, shutdown releases everything)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.client.socket_kit import SocketServer, serving

APP = Path(__file__).resolve().parents[2] / "examples" / "web_seats" / "app.py"
SEATS = 2
KEY = "FLOAT-0001-AAAA-BBBB"
ADMIN = {"X-Admin-Token": "admin-secret"}
PASSWORD = "correct horse"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_seats_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


web_seats = load_example()


@pytest.fixture
def license_server() -> Iterator[SocketServer]:
    with serving() as server:
        server.fake.add_license("App", key=KEY, floating=True, max_seats=SEATS, features=["Pro"])
        yield server


def leased(server: SocketServer) -> set[str]:
    """The hardware IDs holding a live lease of the key, as the license server sees them."""
    with server.lock:
        return {lease.hardware_id for lease in server.fake.live_leases(KEY)}


@pytest.fixture
def settings(license_server: SocketServer, tmp_path: Path) -> Any:
    return web_seats.Settings(
        license_server_url=license_server.url,
        license_token=license_server.fake.access_token,
        floating_key=KEY,
        product_name="App",
        admin_token="admin-secret",
        database=tmp_path / "users.db",
        lease_ttl_seconds=4,
        idle_seconds=60.0,  # the idle sweep's own test shortens it
        sweep_seconds=0.1,
    )


@pytest.fixture
async def client(settings: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=web_seats.create_app(settings)) as client:
        yield client


async def sign_up_and_in(client: AsyncTestClient[Any], name: str) -> Any:
    body = {"email": f"{name}@corp.example", "password": PASSWORD}
    assert (await client.post("/signup", json=body)).status_code == 201
    return await client.post("/signin", json=body)


def bearer(response: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['session']}"}


def hardware_id(settings: Any, name: str) -> str:
    user = web_seats.Users(settings.database).by_email(f"{name}@corp.example")
    return str(user.license_hardware_id).upper()


async def test_a_seat_is_held_while_signed_in_and_freed_at_sign_out(
    client: AsyncTestClient[Any], license_server: SocketServer, settings: Any
) -> None:
    signed_up = await client.post(
        "/signup", json={"email": "alice@corp.example", "password": PASSWORD}
    )
    assert signed_up.status_code == 201 and leased(license_server) == set()  # no seat yet
    alice = await client.post("/signin", json={"email": "alice@corp.example", "password": PASSWORD})
    assert alice.status_code == 200, alice.text
    assert alice.json()["features"] == ["Pro"]
    assert leased(license_server) == {hardware_id(settings, "alice")}
    again = await client.post("/signin", json={"email": "alice@corp.example", "password": PASSWORD})
    assert again.json()["session"] == alice.json()["session"]  # one session, one seat
    assert (await client.get("/me", headers=bearer(alice))).json()["email"] == "alice@corp.example"

    bob = await sign_up_and_in(client, "bob")
    assert bob.status_code == 200
    page = await client.get("/admin", headers=ADMIN)
    assert "Seats: 2 of 2 used" in page.text and "Only 0 seats left" in page.text
    assert (await client.get("/admin")).status_code == 401

    carol = await sign_up_and_in(client, "carol")
    assert carol.status_code == 409
    assert carol.json()["error"] == "no_seat" and carol.json()["nextFreeAt"]

    signed_out = await client.post("/signout", headers=bearer(bob))
    assert signed_out.json() == {"signedOut": "bob@corp.example"}
    assert leased(license_server) == {hardware_id(settings, "alice")}
    assert (await client.get("/me", headers=bearer(bob))).status_code == 401
    carol = await client.post("/signin", json={"email": "carol@corp.example", "password": PASSWORD})
    assert carol.status_code == 200, carol.text


async def test_a_vanished_user_frees_the_seat(license_server: SocketServer, settings: Any) -> None:
    impatient = dataclasses.replace(settings, idle_seconds=1.0)
    async with AsyncTestClient(app=web_seats.create_app(impatient)) as client:
        bob = await sign_up_and_in(client, "bob")
        alice = await sign_up_and_in(client, "alice")
        assert len(leased(license_server)) == 2
        # Bob keeps working; Alice closes her browser without signing out.
        for _ in range(8):
            await asyncio.sleep(0.25)
            assert (await client.get("/me", headers=bearer(bob))).status_code == 200
        assert leased(license_server) == {hardware_id(settings, "bob")}  # Alice's session ended
        assert (await client.get("/me", headers=bearer(alice))).status_code == 401
        assert (await sign_up_and_in(client, "carol")).status_code == 200


async def test_a_seat_taken_back_by_the_publisher_ends_the_session(
    settings: Any, license_server: SocketServer
) -> None:
    async with AsyncTestClient(app=web_seats.create_app(settings)) as client:
        alice = await sign_up_and_in(client, "alice")
        with license_server.lock:
            (lease,) = license_server.fake.live_leases(KEY)
            license_server.fake.end_lease(lease.lease_id)
        for _ in range(50):  # the next heartbeat (a third of the 4 s TTL) learns it
            ended = await client.get("/me", headers=bearer(alice))
            if ended.status_code != 200:
                break
            await asyncio.sleep(0.1)
        assert ended.status_code == 401
        assert ended.json()["error"] == "session_ended"
        assert "lease_not_found" in ended.json()["message"]


async def test_removing_a_user_and_shutting_down_free_the_seats(
    settings: Any, license_server: SocketServer
) -> None:
    async with AsyncTestClient(app=web_seats.create_app(settings)) as client:
        await sign_up_and_in(client, "alice")
        await sign_up_and_in(client, "bob")
        users = web_seats.Users(settings.database)
        bob = users.by_email("bob@corp.example")
        removed = await client.delete(f"/admin/users/{bob.id}", headers=ADMIN)
        assert removed.json() == {"removed": "bob@corp.example", "seatFreed": True}
        assert leased(license_server) == {hardware_id(settings, "alice")}
    assert leased(license_server) == set()  # the app's shutdown released Alice's seat
