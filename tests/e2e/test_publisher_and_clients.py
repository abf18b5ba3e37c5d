"""The publisher API and the clients see each other's changes on the real server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from exisone import ExisOneClient

from .conftest import Demo, OfficialClient, Server

EMAIL = "user@example.com"


def _license_action(server: Server, key: str, action: str, body: Any = None) -> Any:
    """POST /api/license/{activationKey}/{action} with the demo token; the JSON answer."""
    server.require_route("POST", f"/api/license/{{activation_key}}/{action}")
    with server.publisher() as http:
        reply = http.post(f"/api/license/{key}/{action}", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_publisher_lists_what_the_official_client_did(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    key = demo.single_key
    assert official.call("activate", key, EMAIL, device, demo.product_name)["success"]
    server.require_route("GET", "/api/license")
    with server.publisher() as http:
        # Trailing slashes, as ExisOne's MCP server sends them.
        licenses = http.get("/api/license/").raise_for_status().json()
        products = http.get("/api/product/").raise_for_status().json()
        history = http.get(f"/api/license/{key}/history").raise_for_status().json()
    (listed,) = [item for item in licenses if item["activationKey"] == key]
    assert listed["hardwareId"] == device
    assert (listed["currentSeats"], listed["isActive"], listed["isCorporate"]) == (1, True, False)
    assert listed["productName"] == demo.product_name
    (product,) = [item for item in products if item["name"] == demo.product_name]
    assert product["minimumRequiredVersion"] == demo.minimum_version
    assert product["trialDays"] == demo.trial_days
    assert any(entry.get("hardwareId") == device for entry in history), history


def test_license_changes_reach_both_clients(
    official: OfficialClient,
    ours: ExisOneClient,
    server: Server,
    demo: Demo,
    hardware_id: Callable[[], str],
) -> None:
    device, other = hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name
    assert ours.activate(key, EMAIL, device, product).success

    def statuses() -> tuple[str, str]:
        (theirs,) = official.run(("validate", key, device, product))
        return theirs["value"]["status"], str(ours.validate(key, device, product).status)

    _license_action(server, key, "suspend", {"note": "e2e"})
    assert statuses() == ("invalid", "invalid")
    _license_action(server, key, "resume")
    assert statuses() == ("licensed", "licensed")

    _license_action(server, key, "extend", {"expirationDate": "2031-06-30T12:00:00Z"})
    (theirs,) = official.run(("validate", key, device, product))
    assert theirs["value"]["expiration_date"] == "2031-06-30T12:00:00"
    assert ours.validate(key, device, product).expiration_date == datetime(
        2031, 6, 30, 12, tzinfo=timezone.utc
    )

    _license_action(server, key, "free-device", {"hardwareId": device})
    assert statuses() == ("invalid", "invalid")
    assert ours.activate(key, EMAIL, other, product).success  # the seat was freed

    _license_action(server, key, "revoke")
    (refused,) = official.run(("activate", key, EMAIL, device, product))
    assert refused["value"]["error_code"] == "license_revoked"
    assert ours.activate(key, EMAIL, device, product).error_code == "license_revoked"
    assert ours.validate(key, other, product).status == "invalid"


def test_revoked_offline_code_stays_valid_offline_but_not_online(
    official: OfficialClient,
    ours: ExisOneClient,
    server: Server,
    demo: Demo,
    hardware_id: Callable[[], str],
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.single_key, device)
    _license_action(server, demo.single_key, "revoke")
    local, online = official.run(
        ("validate_offline", code, device),
        ("validate", code, device),
        offline_public_key=demo.public_key,
    )
    # Without a network the code cannot know; the server knows.
    assert local["value"]["is_valid"] is True
    assert ours.validate_offline(code, device).is_valid is True
    assert online["value"]["is_valid"] is False
    assert online["value"]["status"] == "invalid"
    assert ours.validate(code, device).status == "invalid"


def test_expired_license_reaches_both_clients(
    official: OfficialClient,
    ours: ExisOneClient,
    server: Server,
    demo: Demo,
    hardware_id: Callable[[], str],
) -> None:
    device, other = hardware_id(), hardware_id()
    key, product = demo.corporate_key, demo.product_name
    code = server.issue_offline_code(key, device)  # signed while the license runs until 2049
    _license_action(server, key, "extend", {"expirationDate": "2020-01-01T00:00:00Z"})
    validated, refused, local, synced = official.run(
        ("validate", key, device, product),
        ("activate", key, EMAIL, other, product),
        ("validate_offline", code, device),
        ("validate", code, device),
        offline_public_key=demo.public_key,
    )
    assert validated["value"]["is_valid"] is False
    assert validated["value"]["status"] == "expired"
    assert validated["value"]["expiration_date"] == "2020-01-01T00:00:00"
    mine = ours.validate(key, device, product)
    assert (mine.is_valid, mine.status) == (False, "expired")
    assert mine.expiration_date == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert refused["value"]["error_code"] == "license_expired"
    assert ours.activate(key, EMAIL, other, product).error_code == "license_expired"
    # The code keeps its signed date offline; the server answers with the license as it is now.
    assert local["value"]["is_valid"] is True
    assert synced["value"]["status"] == "expired"
    assert ours.validate(code, device).status == "expired"
