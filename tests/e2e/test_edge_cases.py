"""Edge cases over real sockets: concurrency, spelling of keys and IDs, offline codes as keys."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from exisone import AsyncExisOneClient, ExisOneClient

from .conftest import Demo, OfficialClient, Server

EMAIL = "user@example.com"


async def test_concurrent_activations_never_exceed_the_seats(
    ours_async: AsyncExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    devices = [hardware_id() for _ in range(demo.corporate_seats * 2)]
    results = await asyncio.gather(
        *[ours_async.activate(key, EMAIL, device, product) for device in devices]
    )
    succeeded = [result for result in results if result.success]
    assert len(succeeded) == demo.corporate_seats, [r.error_code for r in results]
    assert {r.error_code for r in results if not r.success} == {"seat_limit_reached"}
    usage = await ours_async.get_seat_usage(key)
    assert (usage.current_seats, usage.has_capacity) == (demo.corporate_seats, False)


async def test_concurrent_activations_of_one_device_take_one_seat(
    ours_async: AsyncExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product, device = demo.corporate_key, demo.product_name, hardware_id()
    results = await asyncio.gather(
        *[ours_async.activate(key, EMAIL, device, product) for _ in range(6)]
    )
    assert all(result.success for result in results), [r.error_code for r in results]
    assert (await ours_async.get_seat_usage(key)).current_seats == 1


async def test_concurrent_first_trial_checks_agree(
    ours_async: AsyncExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    results = await asyncio.gather(
        *[ours_async.validate("", device, demo.product_name) for _ in range(6)]
    )
    assert {result.status for result in results} == {"trial"}
    assert len({result.expiration_date for result in results}) == 1


def test_keys_and_hardware_ids_are_case_insensitive(
    official: OfficialClient, ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    key, product = demo.corporate_key, demo.product_name
    assert ours.activate(key.lower(), EMAIL, device.lower(), product).success
    assert ours.validate(key, device, product).status == "licensed"
    outcomes = official.run(
        ("validate", key.lower(), device, product),
        ("get_seat_usage", key.lower()),
        ("get_licensed_features_csv", key.lower()),
        ("activate", key, EMAIL, device, product),  # the same device: no second seat
        ("get_seat_usage", key),
    )
    assert outcomes[0]["value"]["status"] == "licensed"
    assert outcomes[1]["value"]["current_seats"] == 1
    assert outcomes[2]["value"] == ",".join(demo.features)
    assert outcomes[3]["value"]["success"] is True
    assert outcomes[4]["value"]["current_seats"] == 1


def test_an_offline_seat_is_freed_by_the_publisher_not_by_deactivate_smart(
    official: OfficialClient,
    ours: ExisOneClient,
    server: Server,
    demo: Demo,
    hardware_id: Callable[[], str],
) -> None:
    """The official client sends the offline code as licenseKey; the server refuses to free a
    seat that backs a signed code (409 offline_seat), which both clients report as deactivated
    locally without the server; the publisher frees it, and the code then fails online."""
    key, product = demo.corporate_key, demo.product_name
    first, second = hardware_id(), hardware_id()
    first_code = server.issue_offline_code(key, first)
    second_code = server.issue_offline_code(key, second)
    assert ours.get_seat_usage(key).current_seats == 2

    (theirs,) = official.run(("deactivate_smart", first_code, first, product))
    mine = ours.deactivate_smart(second_code, second, product)

    assert (theirs["value"]["success"], theirs["value"]["server_notified"]) == (True, False)
    assert (mine.success, mine.server_notified, mine.error_code) == (True, False, "offline_seat")
    assert ours.get_seat_usage(key).current_seats == 2
    with server.publisher() as http:
        freed = http.post(f"/api/license/{key}/free-device", json={"hardwareId": first})
    assert freed.status_code == 200, freed.text
    assert ours.get_seat_usage(key).current_seats == 1
    assert ours.validate(first_code, first).status == "invalid"
    # Smart validation checks the code locally, learns from the server in the background
    # that it was withdrawn, and refuses it from then on (also without the server).
    assert ours.validate_smart(first_code, first, product).is_valid
    withdrawn = ours._core.guard.withdrawn_codes()
    for _ in range(200):
        if withdrawn.status(first_code, first) == "invalid":
            break
        time.sleep(0.05)
    refused = ours.validate_smart(first_code, first, product)
    assert (refused.is_valid, refused.status, refused.was_offline) == (False, "invalid", True)


def test_base_url_with_a_trailing_slash(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    base = server.base_url + "/"
    (theirs,) = official.run(("validate", "", device, demo.product_name), base_url=base)
    assert theirs["value"]["status"] == "trial"
    with ExisOneClient(
        base_url=base, access_token=demo.token, verify=str(server.tls.ca_path)
    ) as ours:
        assert ours.validate("", device, demo.product_name).status == "trial"


def test_the_release_cooldown_seen_by_the_official_and_our_clients(
    official: OfficialClient, ours: ExisOneClient, server: Server, hardware_id: Callable[[], str]
) -> None:
    """deactivationCooldownHours binds the application's deactivate. The official client's
    deactivate_smart meets the refusal (409 release_cooldown) like any HTTP error: "deactivated
    locally", server not notified, no exception, and the seat stays with that device until the
    cooldown lifts; its plain deactivate raises the HTTPError. Ours reports the refusal with its
    code and does not pretend it deactivated."""
    name = f"Cooldown {uuid.uuid4().hex[:8]}"
    with server.publisher() as http:
        made = http.post("/api/product", json={"name": name, "deactivationCooldownHours": 24})
        assert made.status_code in (200, 201), made.text
        generated = http.post(
            "/api/activationkey/generate", json={"productName": name, "email": EMAIL}
        )
        assert generated.status_code == 200, generated.text
    key = generated.json()["activationKey"]
    first, second, third = hardware_id(), hardware_id(), hardware_id()

    outcomes = official.run(
        ("activate", key, EMAIL, first, name),
        ("deactivate_smart", key, first, name),  # the first release: done
        ("activate", key, EMAIL, second, name),  # the seat moved at once
        ("deactivate_smart", key, second, name),  # inside the cooldown: refused
        ("deactivate", key, second, name),
        ("activate", key, EMAIL, third, name),
        ("validate", key, second, name),
    )

    assert outcomes[1]["value"]["success"] is True
    assert outcomes[1]["value"]["server_notified"] is True
    assert outcomes[2]["value"]["success"] is True, outcomes[2]
    assert outcomes[3]["value"]["success"] is True
    assert outcomes[3]["value"]["server_notified"] is False
    assert outcomes[4]["raised"] == "HTTPError" and outcomes[4]["status"] == 409
    assert outcomes[5]["value"]["success"] is False  # the second device keeps the seat
    assert outcomes[6]["value"]["status"] == "licensed"
    mine = ours.deactivate_smart(key, second, name)
    assert (mine.success, mine.server_notified) == (False, True)
    assert mine.error_code == "release_cooldown" and "next release is possible" in (
        mine.error_message or ""
    )
