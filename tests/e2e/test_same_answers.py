"""Both clients, same calls, same server: the same answers (field by field).

The official client returns naive datetimes (UTC assumed); ours returns aware UTC ones, so dates
are compared as naive UTC. Where the clients differ on purpose, the test pins both behaviours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from exisone import AuthenticationError, ExisOneClient, NotFoundError
from tests.support import free_port

from .conftest import Demo, OfficialClient, Server

EMAIL = "user@example.com"


def _naive(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat()


def _seconds_apart(first: str | None, second: str | None) -> float:
    assert first is not None and second is not None
    return abs((datetime.fromisoformat(first) - datetime.fromisoformat(second)).total_seconds())


def _as_official(result: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """Our result's ``fields`` as the official driver reports them."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(result, name)
        if isinstance(value, datetime):
            value = _naive(value)
        elif isinstance(value, str):
            value = str(value)  # ValidationStatus members → plain strings
        out[name] = value
    return out


VALIDATION_FIELDS = (
    "is_valid",
    "status",
    "expiration_date",
    "features",
    "server_version",
    "minimum_required_version",
)
ACTIVATION_FIELDS = (
    "success",
    "error_code",
    "error_message",
    "server_version",
    "minimum_required_version",
)


def test_validate_answers_are_the_same(
    official: OfficialClient, ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device, other, trial_device = hardware_id(), hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name
    assert ours.activate(key, EMAIL, device, product).success
    cases: list[tuple[Any, ...]] = [
        (key, device, product),  # licensed
        (key, device),  # licensed, no product name
        (key, other, product),  # not activated on this device
        ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", device, product),  # unknown key
        (key, device, "OtherApp"),  # another product
        (key, device, product, "0.9.0"),  # version outdated
        (key, device, product, demo.product_version),
        ("", trial_device, product),  # trial (started by the first client, seen by both)
        ("", trial_device, product, "0.9.0"),  # trial, outdated version
        ("", device, product),  # activated device: no trial
        ("", trial_device, "NoSuchProduct"),
        ("", trial_device),  # trial without a product name
    ]
    answers = official.run(*[("validate", *case) for case in cases])
    for case, answer in zip(cases, answers):
        assert "value" in answer, (case, answer)
        mine = _as_official(ours.validate(*case), VALIDATION_FIELDS)
        theirs = dict(answer["value"])
        # Answers without a license date carry "now": equal within seconds.
        assert _seconds_apart(mine.pop("expiration_date"), theirs.pop("expiration_date")) < 5
        assert mine == theirs, case
    statuses = [answer["value"]["status"] for answer in answers]
    assert statuses == [
        "licensed",
        "licensed",
        "invalid",
        "invalid",
        "invalid",
        "version_outdated",
        "licensed",
        "trial",
        "version_outdated",
        "invalid",
        "invalid",
        "invalid",
    ]


def test_activation_refusals_are_the_same(
    official: OfficialClient, ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device, other = hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name
    assert ours.activate(key, EMAIL, device, product).success
    cases: list[tuple[Any, ...]] = [
        (key, EMAIL, device, product),  # already activated here: success
        (key, EMAIL, other, product),  # bound to another device
        (key, EMAIL, other, product, "0.9.0"),  # outdated version
        ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", EMAIL, other, product),  # unknown key
        (demo.corporate_key, EMAIL, other, "OtherApp"),  # another product
        (key, EMAIL, "", product),  # no hardware ID
    ]
    answers = official.run(*[("activate", *case) for case in cases])
    codes = []
    for case, answer in zip(cases, answers):
        mine = _as_official(ours.activate(*case), ACTIVATION_FIELDS)
        assert mine == {name: answer["value"][name] for name in ACTIVATION_FIELDS}, case
        codes.append(mine["error_code"])
    assert codes[0] is None
    assert all(codes[1:]), codes  # every refusal carries a code


def test_seats_features_and_smart_answers_are_the_same(
    official: OfficialClient, ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    first, second = hardware_id(), hardware_id()
    assert ours.activate(key, EMAIL, first, product).success
    assert ours.activate(key, EMAIL, second, product).success
    usage, csv, smart, smart_elsewhere, no_usage = official.run(
        ("get_seat_usage", key),
        ("get_licensed_features_csv", key),
        ("validate_smart", key, first, product),
        ("validate_smart", key, hardware_id(), product),
        ("get_seat_usage", demo.single_key),
    )
    mine = ours.get_seat_usage(key)
    assert usage["value"] == {
        "current_seats": mine.current_seats,
        "max_seats": mine.max_seats,
        "has_capacity": mine.has_capacity,
        "is_unlimited": mine.is_unlimited,
        "remaining": mine.remaining,
    }
    assert csv["value"] == ours.get_licensed_features_csv(key)
    smart_fields = (*VALIDATION_FIELDS, "was_offline", "error_message", "product_name")
    assert _as_official(ours.validate_smart(key, first, product), smart_fields) == smart["value"]
    assert smart["value"]["status"] == "licensed"
    assert smart_elsewhere["value"]["status"] == "invalid"
    try:
        ours.get_seat_usage(demo.single_key)
    except NotFoundError as error:
        assert (no_usage["raised"], no_usage["status"]) == ("HTTPError", error.status_code)
    else:
        raise AssertionError("our client returned seat usage for a single-device key")


def test_offline_answers_are_the_same(
    official: OfficialClient,
    ours: ExisOneClient,
    server: Server,
    demo: Demo,
    hardware_id: Callable[[], str],
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.corporate_key, device)
    fields = (
        "is_valid",
        "product_name",
        "product_id",
        "expiration_date",
        "email",
        "features",
        "version",
        "is_expired",
        "hardware_mismatch",
    )
    elsewhere = hardware_id()
    local, mismatch, smart = official.run(
        ("validate_offline", code, device),
        ("validate_offline", code, elsewhere),
        ("validate_smart", code, device),
        offline_public_key=demo.public_key,
    )
    assert _as_official(ours.validate_offline(code, device), fields) == {
        name: local["value"][name] for name in fields
    }
    assert ours.validate_offline(code, elsewhere).hardware_mismatch is True
    assert mismatch["value"]["hardware_mismatch"] is True
    smart_fields = ("is_valid", "status", "expiration_date", "features", "was_offline")
    assert _as_official(ours.validate_smart(code, device), smart_fields) == {
        name: smart["value"][name] for name in smart_fields
    }


def test_deactivate_smart_refusal_differs_on_purpose(
    official: OfficialClient, ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    """The official client reports a refusal as "deactivated locally"; ours
    reports it as a failure. A real success is the same for both."""
    device = hardware_id()
    key, product = demo.corporate_key, demo.product_name
    assert ours.activate(key, EMAIL, device, product).success
    (refused,) = official.run(("deactivate_smart", key, device, "OtherApp"))
    assert refused["value"] == {
        "success": True,
        "server_notified": False,
        "error_message": (
            "License deactivated locally. Server will be notified when connection is restored."
        ),
    }
    mine = ours.deactivate_smart(key, device, "OtherApp")
    assert (mine.success, mine.server_notified, mine.error_code) == (
        False,
        True,
        "product_mismatch",
    )
    (done,) = official.run(("deactivate_smart", key, device, product))
    assert done["value"] == {"success": True, "server_notified": True, "error_message": None}
    again = ours.deactivate_smart(key, device, product)  # nothing left to free: still a success
    assert (again.success, again.server_notified) == (True, True)


def test_unreachable_server_answers_are_the_same(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    closed = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    device = hardware_id()
    key, product = demo.single_key, demo.product_name
    smart, activation, deactivation = official.run(
        ("validate_smart", key, device, product),
        ("activate", key, EMAIL, device, product),
        ("deactivate_smart", key, device, product),
        base_url=closed,
    )
    with ExisOneClient(
        base_url=closed,
        access_token=demo.token,
        verify=str(server.tls.ca_path),
        max_retries=0,
    ) as ours:
        smart_fields = ("is_valid", "status", "was_offline", "error_message")
        assert _as_official(ours.validate_smart(key, device, product), smart_fields) == {
            name: smart["value"][name] for name in smart_fields
        }
        assert smart["value"]["status"] == "offline"
        mine = ours.activate(key, EMAIL, device, product)
        assert mine.success is activation["value"]["success"] is False
        assert activation["value"]["error_message"].startswith("Network error: ")
        assert (mine.error_message or "").startswith("Network error: ")
        deactivation_fields = ("success", "server_notified", "error_message")
        assert (
            _as_official(ours.deactivate_smart(key, device, product), deactivation_fields)
            == deactivation["value"]
        )


def test_rejected_token_in_validate_smart_differs_on_purpose(
    official: OfficialClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    """The official client takes any HTTP error for "server unreachable"; ours
    raises the 401, which is not an offline situation."""
    device, bad_token = hardware_id(), "exo_at_nosuchtoken_secret"
    (theirs,) = official.run(
        ("validate_smart", demo.single_key, device, demo.product_name), token=bad_token
    )
    assert (theirs["value"]["status"], theirs["value"]["was_offline"]) == ("offline", True)
    with (
        ExisOneClient(
            base_url=server.base_url, access_token=bad_token, verify=str(server.tls.ca_path)
        ) as ours,
        pytest.raises(AuthenticationError) as raised,
    ):
        ours.validate_smart(demo.single_key, device, demo.product_name)
    assert raised.value.status_code == 401
