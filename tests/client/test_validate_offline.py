"""validate_offline with the reference RSA-1024 vector and fresh RSA-2048 keys (both clients)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exisone import OfflineValidationResult
from exisone._offline import issue_offline_code

from .conftest import FakeServer

VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "offline_code_rsa1024.json").read_text()
)
CODE, HWID = VECTOR["code"], VECTOR["hardware_id"]
IN_2026 = datetime(2026, 6, 1, tzinfo=timezone.utc)
EXPIRY = datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
FULL = {
    "product_name": "MyProduct",
    "product_id": 7,
    "expiration_date": EXPIRY,
    "email": "user@example.com",
    "features": ["Pro", "Export"],
    "version": "1.0.0",
    "tenant_id": 1,
}


def pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def key_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def offline_client(make_client: Callable[..., Any]) -> Any:
    """A client with the vector's public key whose network must never be used."""

    def no_network(request: Any) -> Any:
        raise AssertionError("validate_offline must not use the network")

    return make_client(FakeServer(no_network), offline_public_key=VECTOR["public_key_pem"])


def payload(**changes: Any) -> dict[str, Any]:
    data = {
        "productId": 9,
        "productName": "Editor",
        "hardwareId": "HW-2048",
        "expirationDate": "2030-01-01T00:00:00Z",
        "email": "a@b.example",
        "features": ["Pro"],
        "tenantId": 3,
        "version": "2.0",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_reference_vector_is_valid(offline_client: Any) -> None:
    result = offline_client.validate_offline(CODE, HWID, now=IN_2026)
    assert result == OfflineValidationResult(True, **FULL)
    assert result.expiration_date.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("code", "hwid"),
    [
        (CODE, HWID.lower()),
        (CODE, f"  {HWID}\n"),
        (CODE.lower(), HWID),
        (CODE.replace("-", " "), HWID),
        (CODE.replace("1", "L").replace("0", "O"), HWID),
        (CODE.replace("1", "i"), HWID),
        (f"\n{CODE}\n", HWID),
    ],
)
def test_normalisations_still_validate(offline_client: Any, code: str, hwid: str) -> None:
    assert offline_client.validate_offline(code, hwid, now=IN_2026).is_valid


def test_default_clock_is_used_without_now(offline_client: Any) -> None:
    assert offline_client.validate_offline(CODE, HWID).is_valid  # the vector expires in 2049


def test_expired_keeps_full_data(offline_client: Any) -> None:
    result = offline_client.validate_offline(
        CODE, HWID, now=datetime(2050, 1, 1, tzinfo=timezone.utc)
    )
    assert result == OfflineValidationResult(False, "License has expired", is_expired=True, **FULL)


def test_naive_now_is_read_as_utc(offline_client: Any) -> None:
    just_after = offline_client.validate_offline(CODE, HWID, now=datetime(2050, 1, 1))
    assert just_after.is_expired
    at_expiry = offline_client.validate_offline(CODE, HWID, now=datetime(2049, 12, 31, 23, 59, 59))
    assert at_expiry.is_valid


def test_hardware_mismatch_keeps_full_payload_data(offline_client: Any) -> None:
    result = offline_client.validate_offline(CODE, "OTHER", now=IN_2026)
    assert result == OfflineValidationResult(
        False,
        "Hardware ID mismatch. This code is bound to a different machine.",
        hardware_mismatch=True,
        **FULL,
    )


def test_expected_product_is_checked(offline_client: Any) -> None:
    same = offline_client.validate_offline(CODE, HWID, product_name=" myproduct ", now=IN_2026)
    assert same.is_valid
    other = offline_client.validate_offline(CODE, HWID, product_name="OtherProduct", now=IN_2026)
    assert not other.is_valid and other.product_mismatch and not other.hardware_mismatch
    assert other.error_message == "This code is for the product 'MyProduct', not 'OtherProduct'"


def test_tampered_code(offline_client: Any) -> None:
    index = 40
    changed = CODE[:index] + ("A" if CODE[index] != "A" else "B") + CODE[index + 1 :]
    result = offline_client.validate_offline(changed, HWID, now=IN_2026)
    assert result == OfflineValidationResult(False, "Invalid or tampered offline activation code")


@pytest.mark.parametrize("stray", ["U", "*", "é"])
def test_stray_character_is_named(offline_client: Any, stray: str) -> None:
    result = offline_client.validate_offline(CODE[:10] + stray + CODE[10:], HWID, now=IN_2026)
    assert not result.is_valid
    assert repr(stray) in (result.error_message or "")
    assert "position 11" in (result.error_message or "")


def test_truncated_code(offline_client: Any) -> None:
    result = offline_client.validate_offline(CODE[:200], HWID, now=IN_2026)
    assert not result.is_valid
    assert "cut off" in (result.error_message or "")


@pytest.mark.parametrize(
    ("code", "hwid", "message"),
    [
        ("", HWID, "Offline code is required"),
        ("   ", HWID, "Offline code is required"),
        (CODE, "", "Hardware ID is required"),
        (CODE, "  ", "Hardware ID is required"),
    ],
)
def test_blank_inputs(offline_client: Any, code: str, hwid: str, message: str) -> None:
    assert offline_client.validate_offline(code, hwid) == OfflineValidationResult(False, message)


def test_not_configured(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer())
    assert client.validate_offline(CODE, HWID) == OfflineValidationResult(
        False, "Offline validation not configured. Set offline_public_key in options."
    )


def test_rsa_2048_code_with_rotation(
    make_client: Callable[..., Any], key_2048: rsa.RSAPrivateKey
) -> None:
    client = make_client(FakeServer(), offline_public_key=[VECTOR["public_key_pem"], pem(key_2048)])
    code = issue_offline_code(payload(), key_2048)
    result = client.validate_offline(code, "hw-2048", product_name="Editor", now=IN_2026)
    assert result == OfflineValidationResult(
        True,
        product_name="Editor",
        product_id=9,
        expiration_date=datetime(2030, 1, 1, tzinfo=timezone.utc),
        email="a@b.example",
        features=["Pro"],
        version="2.0",
        tenant_id=3,
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"expirationDate": "2020-01-01T00:00:00Z"}, "License has expired"),
        ({"expirationDate": None}, "Offline code has no valid expiration date"),
        ({"expirationDate": "31/12/2049"}, "Offline code has no valid expiration date"),
        ({"expirationDate": 2049}, "Offline code has no valid expiration date"),
        (
            {"hardwareId": "SOMEONE-ELSE"},
            "Hardware ID mismatch. This code is bound to a different machine.",
        ),
        ({"productName": "Viewer"}, "This code is for the product 'Viewer', not 'Editor'"),
    ],
)
def test_rsa_2048_refusals(
    make_client: Callable[..., Any],
    key_2048: rsa.RSAPrivateKey,
    changes: dict[str, Any],
    expected: str,
) -> None:
    client = make_client(FakeServer(), offline_public_key=pem(key_2048))
    code = issue_offline_code(payload(**changes), key_2048)
    result = client.validate_offline(code, "HW-2048", product_name="Editor", now=IN_2026)
    assert not result.is_valid
    assert result.error_message == expected


def test_rsa_2048_odd_payload_fields(
    make_client: Callable[..., Any], key_2048: rsa.RSAPrivateKey
) -> None:
    client = make_client(FakeServer(), offline_public_key=pem(key_2048))
    odd = payload(
        expirationDate="2030-01-01T02:00:00.1234567+02:00",
        features=[1, 2, "Pro"],
        productId="nine",
        email=None,
        extraField={"nested": True},
    )
    result = client.validate_offline(issue_offline_code(odd, key_2048), "HW-2048", now=IN_2026)
    assert result.is_valid
    assert result.expiration_date == datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert result.features == ["1", "2", "Pro"]
    assert result.product_id == 0 and result.email == ""


def test_code_signed_by_an_untrusted_key(
    make_client: Callable[..., Any], key_2048: rsa.RSAPrivateKey
) -> None:
    client = make_client(FakeServer(), offline_public_key=VECTOR["public_key_pem"])
    result = client.validate_offline(
        issue_offline_code(payload(), key_2048), "HW-2048", now=IN_2026
    )
    assert result == OfflineValidationResult(False, "Invalid or tampered offline activation code")


def test_without_now_the_current_utc_time_is_used(
    offline_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    after = datetime(2050, 1, 1, tzinfo=timezone.utc)
    monkeypatch.setattr(offline_client._core.guard, "now", lambda: after)  # "this moment"
    assert offline_client.validate_offline(CODE, HWID) == offline_client.validate_offline(
        CODE, HWID, now=after
    )
    assert offline_client.validate_offline(CODE, HWID).is_expired


# -- the verified-code memory: a repeat check skips the RSA verify, never the other checks ----


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every real signature check the offline path makes."""
    import exisone._offline_check as check
    from exisone._offline import verify_offline_code

    calls: list[str] = []

    def counting(code: str, keys: Any) -> Any:
        calls.append(code)
        return verify_offline_code(code, keys)

    monkeypatch.setattr(check, "_verify", counting)
    return calls


def test_a_repeat_check_of_a_code_does_not_verify_again(
    offline_client: Any, verify_calls: list[str]
) -> None:
    first = offline_client.validate_offline(CODE, HWID, now=IN_2026)
    again = offline_client.validate_offline(f"  {CODE}\n", HWID, now=IN_2026)
    assert first == again == OfflineValidationResult(True, **FULL)
    assert verify_calls == [CODE]
    first.features.append("mutated by the caller")
    assert offline_client.validate_offline(CODE, HWID, now=IN_2026).features == ["Pro", "Export"]


def test_a_remembered_code_is_still_checked_for_expiry_machine_and_product(
    offline_client: Any, verify_calls: list[str]
) -> None:
    assert offline_client.validate_offline(CODE, HWID, now=IN_2026).is_valid
    later = offline_client.validate_offline(CODE, HWID, now=datetime(2050, 1, 1))
    assert later.is_expired and not later.is_valid
    other_machine = offline_client.validate_offline(CODE, "OTHER-HW", now=IN_2026)
    assert other_machine.hardware_mismatch and not other_machine.is_valid
    other_product = offline_client.validate_offline(CODE, HWID, product_name="Another", now=IN_2026)
    assert other_product.product_mismatch and not other_product.is_valid
    assert verify_calls == [CODE]


def test_a_rejected_code_is_never_remembered(
    make_client: Callable[..., Any], key_2048: rsa.RSAPrivateKey, verify_calls: list[str]
) -> None:
    client = make_client(FakeServer(), offline_public_key=VECTOR["public_key_pem"])
    foreign = issue_offline_code(payload(), key_2048)
    for _ in range(2):
        result = client.validate_offline(foreign, "HW-2048", now=IN_2026)
        assert result.error_message == "Invalid or tampered offline activation code"
    assert len(verify_calls) == 2


def test_what_one_client_verified_another_with_other_keys_does_not_trust(
    make_client: Callable[..., Any], key_2048: rsa.RSAPrivateKey
) -> None:
    code = issue_offline_code(payload(), key_2048)
    trusting = make_client(FakeServer(), offline_public_key=pem(key_2048))
    assert trusting.validate_offline(code, "HW-2048", now=IN_2026).is_valid
    other = make_client(FakeServer(), offline_public_key=VECTOR["public_key_pem"])
    assert not other.validate_offline(code, "HW-2048", now=IN_2026).is_valid


def test_the_memory_is_bounded(key_2048: rsa.RSAPrivateKey) -> None:
    from exisone._offline import load_public_keys
    from exisone._offline_check import VerifiedCodes

    memory, keys = VerifiedCodes(kept=3), load_public_keys(pem(key_2048))
    codes = [issue_offline_code(payload(email=f"u{n}@b.example"), key_2048) for n in range(7)]
    for code in codes:
        assert memory.payload(code, keys)["hardwareId"] == "HW-2048"
        assert len(memory._payloads) <= 3
    assert codes[-1] in memory._payloads
