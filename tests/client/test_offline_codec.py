"""The offline-code codec against the reference's RSA-1024 vector and fresh RSA-2048 keys."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from exisone._exceptions import ConfigurationError, InvalidOfflineCode
from exisone._offline import (
    encode_payload,
    is_offline_code,
    issue_offline_code,
    load_private_key,
    load_public_keys,
    load_trusted_keys,
    verify_offline_code,
)

VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "offline_code_rsa1024.json").read_text()
)


@pytest.fixture(scope="module")
def key_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_reference_code_verifies_and_reads_payload() -> None:
    keys = load_public_keys(VECTOR["public_key_pem"])
    verified = verify_offline_code(VECTOR["code"], keys)
    assert verified.payload == json.loads(VECTOR["payload"])
    assert verified.key_index == 0


def test_reference_code_is_reproduced_bit_for_bit() -> None:
    """PKCS#1 v1.5 signatures are deterministic, so issuing the same payload gives the same code."""
    private_key = load_private_key(VECTOR["private_key_pem"])
    payload = json.loads(VECTOR["payload"])
    assert encode_payload(payload) == VECTOR["payload"].encode()
    code = issue_offline_code(payload, private_key)
    assert code.replace("-", "") == VECTOR["code"].replace("-", "")


def test_lower_cased_code_verifies() -> None:
    keys = load_public_keys(VECTOR["public_key_pem"])
    assert verify_offline_code(VECTOR["code"].lower(), keys).payload["productId"] == 7


def test_one_changed_symbol_is_tampering() -> None:
    keys = load_public_keys(VECTOR["public_key_pem"])
    code = VECTOR["code"]
    index = 40
    changed = code[:index] + ("A" if code[index] != "A" else "B") + code[index + 1 :]
    with pytest.raises(InvalidOfflineCode, match="Invalid or tampered"):
        verify_offline_code(changed, keys)


@pytest.mark.parametrize("suffix", ["0", "00", "000"])
def test_appended_symbols_are_rejected(suffix: str) -> None:
    keys = load_public_keys(VECTOR["public_key_pem"])
    with pytest.raises(InvalidOfflineCode):
        verify_offline_code(VECTOR["code"] + suffix, keys)


def test_truncated_code_is_rejected() -> None:
    keys = load_public_keys(VECTOR["public_key_pem"])
    with pytest.raises(InvalidOfflineCode):
        verify_offline_code(VECTOR["code"][:300], keys)


def test_round_trip_rsa_2048(key_2048: rsa.RSAPrivateKey) -> None:
    payload = {"productId": 1, "productName": "Ünïcode ✓", "features": ["a", "b"]}
    code = issue_offline_code(payload, key_2048)
    assert is_offline_code(code)
    verified = verify_offline_code(code, load_public_keys(key_2048.public_key()))
    assert verified.payload == payload


def test_code_signed_by_other_key_is_rejected(key_2048: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    code = issue_offline_code({"productId": 1}, other)
    with pytest.raises(InvalidOfflineCode, match="Invalid or tampered"):
        verify_offline_code(code, load_public_keys(key_2048.public_key()))


def test_rotation_accepts_any_trusted_key(key_2048: rsa.RSAPrivateKey) -> None:
    old = load_private_key(VECTOR["private_key_pem"])
    keys = load_public_keys([key_2048.public_key(), VECTOR["public_key_pem"]])
    code = issue_offline_code({"productId": 2}, old)
    assert verify_offline_code(code, keys).key_index == 1


def test_signed_non_object_payload_is_rejected(key_2048: rsa.RSAPrivateKey) -> None:
    code = issue_offline_code({"x": 1}, key_2048)  # sanity: an object works
    assert verify_offline_code(code, load_public_keys(key_2048.public_key()))
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from exisone._offline import _crockford

    body = b"[1,2,3]"
    blob = (
        len(body).to_bytes(2, "little")
        + body
        + key_2048.sign(body, padding.PKCS1v15(), hashes.SHA256())
    )
    with pytest.raises(InvalidOfflineCode, match="not a JSON object"):
        verify_offline_code(_crockford.encode(blob), load_public_keys(key_2048.public_key()))


@pytest.mark.parametrize(
    "pem",
    ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"],
)
def test_bad_public_key_is_a_configuration_error(pem: str) -> None:
    with pytest.raises(ConfigurationError):
        load_public_keys(pem)


def test_online_key_is_not_an_offline_code() -> None:
    assert not is_offline_code("ABCD-EFGH-JKMN-PQRS")
    assert is_offline_code("A" * 60)
    assert is_offline_code(VECTOR["code"])


def _pem(public_key: object) -> str:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_trusted_keys_take_ed25519_lease_keys_beside_rsa(key_2048: rsa.RSAPrivateKey) -> None:
    lease_key = ed25519.Ed25519PrivateKey.generate().public_key()
    rsa_pem, lease_pem = _pem(key_2048.public_key()), _pem(lease_key)
    for given in ([rsa_pem, lease_pem], rsa_pem + lease_pem, [key_2048.public_key(), lease_key]):
        trusted = load_trusted_keys(given)
        assert [_pem(k) for k in trusted.rsa_keys] == [rsa_pem]
        assert [_pem(k) for k in trusted.lease_keys] == [rsa_pem, lease_pem]
    assert load_trusted_keys(lease_pem).rsa_keys == ()
    # offline codes are RSA only: the strict loader says so
    with pytest.raises(ConfigurationError, match="must be an RSA public key"):
        load_public_keys([rsa_pem, lease_pem])
    with pytest.raises(ConfigurationError, match="not a PEM public key"):
        load_trusted_keys(rsa_pem + "-----BEGIN PUBLIC KEY-----\nbroken\n")
    with pytest.raises(ConfigurationError, match="no offline public key"):
        load_trusted_keys([])


def test_rsa_keys_do_the_rsa_work_in_any_order(key_2048: rsa.RSAPrivateKey) -> None:
    from exisone import ExisOneClient

    lease_pem = _pem(ed25519.Ed25519PrivateKey.generate().public_key())
    rsa_pem = _pem(key_2048.public_key())
    with ExisOneClient(
        base_url="http://127.0.0.1:9",
        access_token="exo_at_a_b",
        offline_public_key=[lease_pem, rsa_pem],
    ) as client:
        settings = client._core.settings
    # sealed requests use the first RSA key; signed answers and codes only RSA keys
    assert [_pem(k) for k in settings.public_keys or ()] == [rsa_pem]
    assert [_pem(k) for k in settings.lease_keys or ()] == [lease_pem, rsa_pem]
    with pytest.raises(ConfigurationError, match="trusted RSA keys"):
        ExisOneClient(
            base_url="http://127.0.0.1:9",
            access_token="exo_at_a_b",
            offline_public_key=lease_pem,
            require_signed_answers=True,
        )


def test_a_client_with_only_the_lease_key_checks_leases_not_codes() -> None:
    from exisone import ExisOneClient

    lease_pem = _pem(ed25519.Ed25519PrivateKey.generate().public_key())
    with ExisOneClient(
        base_url="http://127.0.0.1:9", access_token="exo_at_a_b", offline_public_key=lease_pem
    ) as client:
        result = client.validate_offline("A" * 60, "HW")
    assert not result.is_valid and "not configured" in (result.error_message or "")
