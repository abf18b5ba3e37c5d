"""exisone.testing reaches every license state without a network."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from exisone import AuthenticationError, NotFoundError, ValidationStatus
from exisone.protocol import ErrorCode, ValidationReason
from exisone.testing import FakeClock, FakeExisOneServer, FakeProduct, KeyPair, issue_offline_code

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "E" * 64


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> FakeExisOneServer:
    fake = FakeExisOneServer(clock=clock)
    fake.add_product("App", version="2.0.0", minimum_version="1.5.0", trial_days=10)
    return fake


def test_activation_validation_and_seats(fake: FakeExisOneServer) -> None:
    single = fake.add_license("App", features=["Pro"]).key
    corporate = fake.add_license("App", max_seats=2).key
    with fake.client() as client:
        assert client.validate(single, HWID).status == ValidationStatus.INVALID  # not activated
        assert client.activate(single, "a@b.c", HWID, "App").success
        assert client.validate(single, HWID).features == ["Pro"]
        taken = client.activate(single, "a@b.c", "F" * 64, "App")
        assert not taken.success and taken.error_code == "license_in_use"
        for device in ("1" * 64, "2" * 64):
            assert client.activate(corporate, "a@b.c", device, "App").success
        assert client.activate(corporate, "a@b.c", "3" * 64, "App").error_code == (
            "seat_limit_reached"
        )
        assert client.get_seat_usage(corporate).current_seats == 2
        with pytest.raises(NotFoundError):
            client.get_seat_usage(single)
        assert client.get_licensed_features(single) == ["Pro"]
        assert client.deactivate(single, HWID, "App")


def test_expiry_revocation_versions_and_trials(fake: FakeExisOneServer, clock: FakeClock) -> None:
    key = fake.add_license("App", expires=START + timedelta(days=5)).key
    with fake.client() as client:
        client.activate(key, "a@b.c", HWID, "App")
        assert client.validate(key, HWID, version="1.0.0").status == "version_outdated"
        trial = client.validate("", HWID, "App")
        assert trial.status == ValidationStatus.TRIAL and trial.remaining_days == 10
        clock.advance(days=6)
        assert client.validate(key, HWID).status == ValidationStatus.EXPIRED
        clock.advance(days=5)
        assert client.validate("", HWID, "App").status == ValidationStatus.EXPIRED
        other = fake.add_license("App").key
        client.activate(other, "a@b.c", HWID, "App")
        fake.revoke(other)
        assert client.validate(other, HWID).status == ValidationStatus.INVALID


def test_add_license_takes_the_product_add_product_returned(fake: FakeExisOneServer) -> None:
    editor = fake.add_product("Editor", version="3.0.0", minimum_version="3.0.0")
    license = fake.add_license(editor, features=["Pro"])
    assert license.product == "Editor"
    unlisted = fake.add_license(FakeProduct("Viewer", trial_days=0))
    assert fake.products["viewer"].trial_days == 0
    with fake.client() as client:
        assert client.activate(license.key, "a@b.c", HWID, "Editor", version="3.1.0").success
        assert client.validate(license.key, HWID, version="2.9.0").status == "version_outdated"
        assert client.activate(unlisted.key, "a@b.c", HWID, "Viewer").success
        assert client.validate("", HWID, "Viewer").status == ValidationStatus.INVALID


def _raw(fake: FakeExisOneServer, path: str, body: bytes) -> httpx.Response:
    headers = {"Authorization": f"ExisOneApi {fake.access_token}"}
    with httpx.Client(transport=fake, base_url=fake.base_url, headers=headers) as http:
        return http.post(path, content=body)


@pytest.mark.parametrize(
    ("product", "reason"),
    [
        ("", ValidationReason.PRODUCT_NAME_REQUIRED),
        ("Nothing", ValidationReason.PRODUCT_NOT_FOUND),
        ("NoTrial", ValidationReason.TRIAL_NOT_AVAILABLE),
        ("App", ValidationReason.TRIAL_ACTIVE),
    ],
)
def test_trial_answers_carry_the_reason_the_real_server_gives(
    fake: FakeExisOneServer, product: str, reason: ValidationReason
) -> None:
    fake.add_product("NoTrial", trial_days=0)
    body = f'{{"hardwareId": "{HWID}", "productName": "{product}"}}'.encode()
    answer = _raw(fake, "/api/license/validate", body).json()
    assert (answer["reason"], answer["status"], answer["isValid"]) == (
        reason,
        reason.status,
        reason.is_valid,
    )


def test_a_body_that_is_not_json_is_invalid_json(fake: FakeExisOneServer) -> None:
    answer = _raw(fake, "/api/license/activate", b"{not json")
    assert answer.status_code == 400
    assert answer.json()["error"] == ErrorCode.INVALID_JSON


def test_wrong_token_and_unreachable(fake: FakeExisOneServer) -> None:
    with (
        fake.client(access_token="exo_at_wrong_token") as client,
        pytest.raises(AuthenticationError),
    ):
        client.validate("KEY", HWID)
    fake.reachable = False
    with fake.client() as client:
        assert client.validate_smart("KEY", HWID).status == ValidationStatus.OFFLINE


def test_offline_codes_from_the_key_pair(clock: FakeClock) -> None:
    keys = KeyPair.generate(1024)
    code = issue_offline_code(
        keys,
        product_name="App",
        hardware_id=HWID,
        expires=START + timedelta(days=30),
        issued_at=START,
    )
    fake = FakeExisOneServer(key_pair=keys, clock=clock)
    with fake.client() as client:
        assert client.validate_offline(code, HWID, product_name="App").is_valid
        clock.advance(days=31)
        assert client.validate_offline(code, HWID).is_expired


def test_importing_exisone_does_not_import_the_kit() -> None:
    code = (
        "import sys, exisone; "
        "print('exisone.testing' in sys.modules, 'platformdirs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
