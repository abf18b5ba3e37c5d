"""Our ``exisone`` clients (sync and async) against the real server over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from exisone import (
    AsyncExisOneClient,
    AuthenticationError,
    ExisOneClient,
    NotFoundError,
    PermissionDeniedError,
)
from tests.support import free_port

from .conftest import Demo, Server

PERPETUAL = datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
EMAIL = "user@example.com"


def _client(server: Server, **options: object) -> ExisOneClient:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "access_token": server.demo.token,
        "offline_public_key": server.demo.public_key,
        "verify": str(server.tls.ca_path),
        **options,
    }
    return ExisOneClient(**settings)  # type: ignore[arg-type]


def test_activate_validate_features_deactivate(
    ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device, other = hardware_id(), hardware_id()
    key, product = demo.single_key, demo.product_name

    activated = ours.activate(key, EMAIL, device, product, demo.product_version)
    assert activated.success is True, activated
    assert activated.status_code == 200
    assert activated.error_code is None
    assert activated.server_version == demo.product_version
    assert activated.minimum_required_version == demo.minimum_version
    assert activated.license_data is not None
    assert json.loads(activated.license_data)["activationKey"] == key
    assert ours.activate(key, EMAIL, device, product).success is True  # idempotent

    refused = ours.activate(key, EMAIL, other, product)
    assert (refused.success, refused.error_code, refused.status_code) == (
        False,
        "license_in_use",
        409,
    )

    valid = ours.validate(key, device, product)
    assert valid.is_valid is True
    assert valid.status == "licensed"
    assert valid.expiration_date == PERPETUAL
    assert valid.expiration_date.tzinfo is not None
    assert valid.features == demo.features
    assert valid.server_version == demo.product_version
    assert valid.minimum_required_version == demo.minimum_version

    smart = ours.validate_smart(key, device, product)
    assert (smart.is_valid, smart.status, smart.was_offline) == (True, "licensed", False)
    assert ours.get_licensed_features_csv(key) == ",".join(demo.features)
    assert ours.get_licensed_features(key) == demo.features

    assert ours.deactivate(key, device, product) is True
    after = ours.validate(key, device, product)
    assert (after.is_valid, after.status, after.features) == (False, "invalid", [])


def test_seat_usage_of_a_corporate_key(
    ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    first, second = hardware_id(), hardware_id()
    assert ours.activate(key, EMAIL, first, product).success
    assert ours.activate(key, EMAIL, second, product).success
    assert ours.activate(key, EMAIL, second, product).success  # no second seat

    usage = ours.get_seat_usage(key)
    assert (usage.current_seats, usage.max_seats, usage.remaining) == (2, demo.corporate_seats, 3)
    assert (usage.has_capacity, usage.is_unlimited) == (True, False)
    assert ours.deactivate(key, first, product) is True
    assert ours.get_seat_usage(key).current_seats == 1

    with pytest.raises(NotFoundError) as raised:
        ours.get_seat_usage(demo.single_key)
    assert raised.value.status_code == 404
    assert raised.value.error_code == "not_corporate"


def test_send_support_ticket(ours: ExisOneClient, demo: Demo) -> None:
    ours.send_support_ticket(demo.product_name, EMAIL, "Help", "It broke.")  # no exception


def test_version_outdated(ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]) -> None:
    device = hardware_id()
    key, product = demo.single_key, demo.product_name
    refused = ours.activate(key, EMAIL, device, product, "0.9.0")
    assert (refused.success, refused.error_code) == (False, "version_outdated")
    assert refused.server_version == demo.product_version
    assert refused.minimum_required_version == demo.minimum_version
    assert ours.activate(key, EMAIL, device, product, demo.minimum_version).success
    outdated = ours.validate(key, device, product, "0.9.0")
    assert (outdated.is_valid, outdated.status) == (False, "version_outdated")
    assert ours.validate(key, device, product, demo.product_version).status == "licensed"


def test_trial_mode(ours: ExisOneClient, demo: Demo, hardware_id: Callable[[], str]) -> None:
    device = hardware_id()
    before = datetime.now(timezone.utc)
    trial = ours.validate("", device, demo.product_name)
    assert (trial.is_valid, trial.status, trial.features) == (True, "trial", [])
    assert trial.remaining_days == demo.trial_days
    assert trial.expiration_date is not None
    expected = before + timedelta(days=demo.trial_days)
    assert abs(trial.expiration_date - expected) < timedelta(minutes=1)
    assert ours.validate("", device, demo.product_name).expiration_date == trial.expiration_date


def test_generate_activation_key(
    ours: ExisOneClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    server.require_route("POST", "/api/activationkey/generate")
    key = ours.generate_activation_key(demo.product_name, EMAIL, plan_id=demo.plan_id)
    assert len(key.replace("-", "")) == 16
    details = ours.generate_activation_key_details(demo.product_name, EMAIL, validity_days=30)
    assert (details.is_corporate, details.is_offline) == (False, False)
    device = hardware_id()
    assert ours.activate(key, EMAIL, device, demo.product_name).success
    valid = ours.validate(key, device, demo.product_name)
    assert (valid.status, valid.features, valid.expiration_date) == (
        "licensed",
        demo.features,
        PERPETUAL,
    )
    assert ours.activate(details.activation_key, EMAIL, device, demo.product_name).success
    short = ours.validate(details.activation_key, device, demo.product_name)
    assert short.expiration_date is not None
    left = short.expiration_date - datetime.now(timezone.utc)
    assert timedelta(days=29) < left <= timedelta(days=31)


def test_offline_code_checked_locally_and_smart(
    ours: ExisOneClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.single_key, device)
    local = ours.validate_offline(code, device)
    assert local.is_valid is True, local
    assert local.product_name == demo.product_name
    assert local.expiration_date == PERPETUAL
    assert local.features == demo.features
    assert local.tenant_id == demo.tenant_id
    assert ours.validate_offline(code, hardware_id()).hardware_mismatch is True
    mismatch = ours.validate_offline(code, device, product_name="OtherApp")
    assert (mismatch.is_valid, mismatch.product_mismatch) == (False, True)

    smart = ours.validate_smart(code, device, demo.product_name)
    assert (smart.is_valid, smart.status, smart.was_offline) == (True, "licensed", True)
    assert smart.product_name == demo.product_name
    online = ours.validate(code, device)  # what the background sync sends
    assert online.status == "licensed"


def test_deactivate_smart_refused_versus_unreachable(
    ours: ExisOneClient, server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    key, product = demo.single_key, demo.product_name
    assert ours.activate(key, EMAIL, device, product).success

    refused = ours.deactivate_smart(key, device, "OtherApp")
    assert (refused.success, refused.server_notified) == (False, True)
    assert (refused.error_code, refused.status_code) == ("product_mismatch", 409)
    unknown = ours.deactivate_smart("ZZZZ-ZZZZ-ZZZZ-ZZZZ", device, product)
    assert (unknown.success, unknown.status_code) == (False, 404)
    assert ours.validate(key, device, product).status == "licensed"  # still bound

    with _client(server, base_url=f"https://127.0.0.1:{free_port()}", max_retries=0) as closed:
        offline = closed.deactivate_smart(key, device, product)
        assert (offline.success, offline.server_notified) == (True, False)
        smart = closed.validate_smart(key, device, product)
        assert (smart.is_valid, smart.status, smart.was_offline) == (False, "offline", True)
        activation = closed.activate(key, EMAIL, device, product)
        assert (activation.success, activation.error_code) == (False, "network_error")

    done = ours.deactivate_smart(key, device, product)
    assert (done.success, done.server_notified) == (True, True)
    assert ours.validate(key, device, product).status == "invalid"


def test_tokens_are_checked(server: Server, demo: Demo) -> None:
    with (
        _client(server, access_token="exo_at_nosuchtoken_secret") as stranger,
        pytest.raises(AuthenticationError) as raised,
    ):
        stranger.validate(demo.single_key, "HW", demo.product_name)
    assert raised.value.status_code == 401

    issued = json.loads(
        server.cli("token", "create", "--tenant", "demo", "--permission", "verify", "--json")
    )
    with _client(server, access_token=issued["token"]) as verifier:
        assert verifier.validate(demo.single_key, "HW", demo.product_name).status == "invalid"
        with pytest.raises(PermissionDeniedError) as denied:
            verifier.send_support_ticket(demo.product_name, EMAIL, "Help", "It broke.")
    assert denied.value.status_code == 403


async def test_async_client_flow(
    ours_async: AsyncExisOneClient, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    key, product = demo.corporate_key, demo.product_name
    first, second = hardware_id(), hardware_id()
    assert (await ours_async.activate(key, EMAIL, first, product)).success
    assert (await ours_async.activate(key, EMAIL, second, product)).success
    valid = await ours_async.validate(key, first, product)
    assert (valid.is_valid, valid.status, valid.features) == (True, "licensed", demo.features)
    assert (await ours_async.get_seat_usage(key)).current_seats == 2
    assert await ours_async.get_licensed_features(key) == demo.features
    assert await ours_async.deactivate(key, first, product) is True
    assert (await ours_async.get_seat_usage(key)).remaining == demo.corporate_seats - 1
    smart = await ours_async.validate_smart(key, second, product)
    assert (smart.status, smart.was_offline) == ("licensed", False)
    refused = await ours_async.deactivate_smart(key, second, "OtherApp")
    assert (refused.success, refused.error_code) == (False, "product_mismatch")
    trial = await ours_async.validate("", first, product)
    assert (trial.is_valid, trial.status) == (False, "invalid")  # was activated: no trial
