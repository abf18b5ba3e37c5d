"""The official ``exisone-client`` 0.10.0, unchanged, against our server over HTTPS.

Every call runs in the official venv (see conftest ``official``); results come back as JSON, with
the official client's naive UTC datetimes as ISO 8601 text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from .conftest import Demo, OfficialClient, Server

PERPETUAL = "2049-12-31T23:59:59"
EMAIL = "user@example.com"


def _naive_utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_the_driver_runs_the_official_package(official: OfficialClient) -> None:
    assert official.call("get_version") == "0.10.0"


def test_activate_validate_features_deactivate(
    official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device, other = hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name
    (
        activated,
        again,
        elsewhere,
        valid,
        smart,
        csv,
        deactivated,
        after,
    ) = official.run(
        ("activate", key, EMAIL, device, product, demo.product_version),
        ("activate", key, EMAIL, device, product),
        ("activate", key, EMAIL, other, product),
        ("validate", key, device, product),
        ("validate_smart", key, device, product),
        ("get_licensed_features_csv", key),
        ("deactivate", key, device, product),
        ("validate", key, device, product),
    )

    result = activated["value"]
    assert result["success"] is True, result
    assert result["error_code"] is None
    assert result["server_version"] == demo.product_version
    assert result["minimum_required_version"] == demo.minimum_version
    assert json.loads(result["license_data"])["activationKey"] == key
    assert again["value"]["success"] is True  # same device again: idempotent
    refused = elsewhere["value"]
    assert refused["success"] is False
    assert refused["error_code"] == "license_in_use"
    assert refused["error_message"]

    assert valid["value"] == {
        "is_valid": True,
        "status": "licensed",
        "expiration_date": PERPETUAL,
        "features": demo.features,
        "server_version": demo.product_version,
        "minimum_required_version": demo.minimum_version,
    }
    assert smart["value"]["is_valid"] is True
    assert smart["value"]["status"] == "licensed"
    assert smart["value"]["was_offline"] is False
    assert csv["value"] == ",".join(demo.features)

    assert deactivated["value"] is True
    # After deactivation the key is no longer bound to the device: invalid (reason not_activated).
    assert after["value"]["is_valid"] is False
    assert after["value"]["status"] == "invalid"
    assert after["value"]["features"] == []


def test_deactivation_frees_a_single_device_key_for_another_device(
    official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    first, second = hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name
    outcomes = official.run(
        ("activate", key, EMAIL, first, product),
        ("deactivate", key, first, product),
        ("activate", key, EMAIL, second, product),
        ("validate", key, second, product),
        ("validate", key, first, product),
    )
    assert outcomes[0]["value"]["success"] is True
    assert outcomes[1]["value"] is True
    assert outcomes[2]["value"]["success"] is True, outcomes[2]
    assert outcomes[3]["value"]["status"] == "licensed"
    assert outcomes[4]["value"]["status"] == "invalid"


def test_seat_usage_of_a_corporate_key(
    official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    first, second = hardware_id(), hardware_id()
    outcomes = official.run(
        ("activate", key, EMAIL, first, product),
        ("activate", key, EMAIL, second, product),
        ("activate", key, EMAIL, second, product),  # the same device takes no second seat
        ("get_seat_usage", key),
        ("deactivate", key, first, product),
        ("get_seat_usage", key),
        ("get_seat_usage", demo.single_key),
    )
    assert [outcome["value"]["success"] for outcome in outcomes[:3]] == [True, True, True]
    assert outcomes[3]["value"] == {
        "current_seats": 2,
        "max_seats": demo.corporate_seats,
        "has_capacity": True,
        "is_unlimited": False,
        "remaining": demo.corporate_seats - 2,
    }
    assert outcomes[4]["value"] is True
    assert outcomes[5]["value"]["current_seats"] == 1
    assert outcomes[5]["value"]["remaining"] == demo.corporate_seats - 1
    # A single-device license has no seat usage: 404, which the official client raises.
    assert outcomes[6]["raised"] == "HTTPError"
    assert outcomes[6]["status"] == 404


def test_corporate_key_refuses_the_seat_after_the_last(
    official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    devices = [hardware_id() for _ in range(demo.corporate_seats + 1)]
    outcomes = official.run(
        *[("activate", key, EMAIL, device, product) for device in devices],
        ("get_seat_usage", key),
    )
    assert [o["value"]["success"] for o in outcomes[:-1]] == [True] * demo.corporate_seats + [False]
    assert outcomes[-2]["value"]["error_code"] == "seat_limit_reached"
    usage = outcomes[-1]["value"]
    assert (usage["current_seats"], usage["has_capacity"], usage["remaining"]) == (
        demo.corporate_seats,
        False,
        0,
    )


def test_send_support_ticket(official: OfficialClient, demo: Demo) -> None:
    sent = official.call("send_support_ticket", demo.product_name, EMAIL, "Help", "It broke.")
    assert sent is None


def test_version_outdated(
    official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    key, product = demo.single_key, demo.product_name
    too_old = "0.9.0"
    refused, activated, outdated, current = official.run(
        ("activate", key, EMAIL, device, product, too_old),
        ("activate", key, EMAIL, device, product, demo.minimum_version),
        ("validate", key, device, product, too_old),
        ("validate", key, device, product, demo.product_version),
    )
    assert refused["value"]["success"] is False
    assert refused["value"]["error_code"] == "version_outdated"
    assert refused["value"]["server_version"] == demo.product_version
    assert refused["value"]["minimum_required_version"] == demo.minimum_version
    assert activated["value"]["success"] is True
    # validate reports it as a status (HTTP 200), so the official client does not raise.
    assert outdated["value"]["is_valid"] is False
    assert outdated["value"]["status"] == "version_outdated"
    assert outdated["value"]["minimum_required_version"] == demo.minimum_version
    assert current["value"]["status"] == "licensed"


def test_trial_mode(official: OfficialClient, demo: Demo, hardware_id: Callable[[], str]) -> None:
    device, activated_device = hardware_id(), hardware_id()
    product = demo.product_name
    before = _naive_utc_now()
    first, again, unknown, activation, refused = official.run(
        ("validate", "", device, product),
        ("validate", "", device, product),
        ("validate", "", device, "NoSuchProduct"),
        ("activate", demo.single_key, EMAIL, activated_device, product),
        ("validate", "", activated_device, product),
    )
    trial = first["value"]
    assert trial["is_valid"] is True
    assert trial["status"] == "trial"
    assert trial["features"] == []
    expires = datetime.fromisoformat(trial["expiration_date"])
    expected = before + timedelta(days=demo.trial_days)
    assert expected - timedelta(minutes=1) <= expires <= expected + timedelta(minutes=1)
    assert again["value"]["expiration_date"] == trial["expiration_date"]  # no trial reset
    assert unknown["value"]["is_valid"] is False
    assert unknown["value"]["status"] == "invalid"
    assert activation["value"]["success"] is True
    # A device that was activated for the product gets no trial.
    assert refused["value"]["is_valid"] is False
    assert refused["value"]["status"] == "invalid"


def test_offline_code_checked_locally_and_smart(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.single_key, device)
    local, lower_case_device, elsewhere, smart, online = official.run(
        ("validate_offline", code, device),
        ("validate_offline", code, device.lower()),
        ("validate_offline", code, hardware_id()),
        ("validate_smart", code, device),
        ("validate", code, device),  # what validate_smart's background sync sends
        offline_public_key=demo.public_key,
    )
    result = local["value"]
    assert result["is_valid"] is True, result
    assert result["error_message"] is None
    assert result["product_name"] == demo.product_name
    assert result["product_id"] > 0
    assert result["expiration_date"] == PERPETUAL
    assert result["email"] == "single@example.com"
    assert result["features"] == demo.features
    assert result["version"] == demo.product_version
    assert (result["is_expired"], result["hardware_mismatch"]) == (False, False)
    assert lower_case_device["value"]["is_valid"] is True
    assert elsewhere["value"]["is_valid"] is False
    assert elsewhere["value"]["hardware_mismatch"] is True
    assert smart["value"]["is_valid"] is True
    assert smart["value"]["status"] == "licensed"
    assert smart["value"]["was_offline"] is True
    assert smart["value"]["product_name"] == demo.product_name
    assert online["value"]["status"] == "licensed"


def test_offline_code_needs_the_tenant_public_key(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.corporate_key, device)
    (unconfigured,) = official.run(("validate_offline", code, device))
    assert unconfigured["value"]["is_valid"] is False
    assert "not configured" in unconfigured["value"]["error_message"]


def test_generate_activation_key(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    server.require_route("POST", "/api/activationkey/generate")
    device = hardware_id()
    (by_plan, by_days) = official.run(
        ("generate_activation_key", demo.product_name, EMAIL, demo.plan_id),
        ("generate_activation_key", demo.product_name, EMAIL, None, 30),
    )
    generated = json.loads(by_plan["value"])  # the official client returns the raw JSON text
    assert generated["isCorporate"] is False
    assert generated["isOffline"] is False
    key = generated["activationKey"]
    assert len(key.replace("-", "")) == 16
    short_key = json.loads(by_days["value"])["activationKey"]
    before = _naive_utc_now()
    outcomes = official.run(
        ("activate", key, EMAIL, device, demo.product_name),
        ("validate", key, device, demo.product_name),
        ("activate", short_key, EMAIL, device, demo.product_name),
        ("validate", short_key, device, demo.product_name),
    )
    assert outcomes[0]["value"]["success"] is True, outcomes[0]
    assert outcomes[1]["value"]["status"] == "licensed"
    assert outcomes[1]["value"]["features"] == demo.features
    assert outcomes[1]["value"]["expiration_date"] == PERPETUAL
    assert outcomes[2]["value"]["success"] is True, outcomes[2]
    expires = datetime.fromisoformat(outcomes[3]["value"]["expiration_date"])
    assert timedelta(days=29) < expires - before <= timedelta(days=31)


def test_wrong_token_is_an_http_error(official: OfficialClient, demo: Demo) -> None:
    validate, activate = official.run(
        ("validate", demo.single_key, "HW", demo.product_name),
        ("activate", demo.single_key, EMAIL, "HW", demo.product_name),
        token="exo_at_nosuchtoken_secret",
    )
    assert validate["raised"] == "HTTPError"
    assert validate["status"] == 401
    assert activate["value"]["success"] is False  # activate never raises
