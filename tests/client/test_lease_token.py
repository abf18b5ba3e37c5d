"""The lease token: signed by the tenant key, checked offline, every damage refused."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from exisone.protocol import (
    LEASE_TOKEN_PREFIX,
    InvalidLeaseToken,
    issue_lease_token,
    key_id,
    verify_lease_token,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    )


def _token(private_key: rsa.RSAPrivateKey, **changes: object) -> str:
    fields: dict[str, object] = {
        "lease_id": "l_42",
        "tenant_id": 7,
        "activation_key": "ABCD-EFGH-JKLM-NPQR",
        "hardware_id": "HW-ÄÖ-1",
        "product_name": "Demo App",
        "features": ["pro", "export"],
        "issued_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "borrowed": False,
        "private_key": private_key,
    }
    fields.update(changes)
    return issue_lease_token(**fields)  # type: ignore[arg-type]


def _payload(token: str) -> dict[str, object]:
    encoded = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def test_a_token_round_trips_with_the_signing_key_named(keys) -> None:
    strong, weak = keys
    token = _token(strong, borrowed=True)
    assert token.startswith(LEASE_TOKEN_PREFIX) and token.count(".") == 2
    lease = verify_lease_token(token, [weak.public_key(), strong.public_key()])
    assert lease.lease_id == "l_42" and lease.tenant_id == 7
    assert lease.hardware_id == "HW-ÄÖ-1" and lease.product_name == "Demo App"
    assert lease.features == ("pro", "export") and lease.borrowed is True
    assert lease.issued_at == NOW and lease.expires_at == NOW + timedelta(minutes=15)
    assert lease.key_id == key_id(strong.public_key()) and lease.key_index == 1
    assert not lease.is_expired(NOW + timedelta(minutes=14, seconds=59))
    assert lease.is_expired(NOW + timedelta(minutes=15))


def test_the_payload_keys_come_in_the_documented_order(keys) -> None:
    assert list(_payload(_token(keys[0]))) == [
        "v", "kid", "leaseId", "tenantId", "activationKey", "hardwareId",
        "productName", "features", "issuedAt", "expiresAt", "borrowed",
    ]  # fmt: skip


def test_a_token_signed_by_an_untrusted_key_is_refused(keys) -> None:
    strong, weak = keys
    with pytest.raises(InvalidLeaseToken, match="Invalid or tampered"):
        verify_lease_token(_token(weak), [strong.public_key()])


def test_a_changed_payload_is_refused(keys) -> None:
    strong = keys[0]
    token = _token(strong)
    payload = _payload(token)
    payload["hardwareId"] = "ANOTHER-MACHINE"
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    prefix, _, signature = token.split(".")
    with pytest.raises(InvalidLeaseToken, match="Invalid or tampered"):
        verify_lease_token(f"{prefix}.{forged_body}.{signature}", [strong.public_key()])


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: "",
        lambda t: t.replace(LEASE_TOKEN_PREFIX, "exo_xx.", 1),
        lambda t: t[:-10],
        lambda t: t + ".extra",
        lambda t: t[:-3] + "!!!",
        lambda t: t.rpartition(".")[0] + ".",
        lambda t: "x" * 20_000,
    ],
)
def test_damaged_tokens_are_refused(keys, damage) -> None:
    with pytest.raises(InvalidLeaseToken):
        verify_lease_token(damage(_token(keys[0])), [keys[0].public_key()])


def test_white_space_around_a_pasted_token_is_ignored(keys) -> None:
    token = _token(keys[0])
    assert verify_lease_token(f"  {token}\n", [keys[0].public_key()]).lease_id == "l_42"


def test_an_ed25519_token_verifies_with_its_key_alone(keys) -> None:
    strong, weak = keys
    lease_key = ed25519.Ed25519PrivateKey.generate()
    token = _token(lease_key)
    signature = token.rsplit(".", 1)[1]
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    assert len(token) < len(_token(strong)) - 250  # 64 signature bytes against 256
    assert verify_lease_token(token, [lease_key.public_key()]).key_index == 0  # alone
    trusted = [strong.public_key(), lease_key.public_key()]
    lease = verify_lease_token(token, trusted)
    assert lease.key_index == 1 and lease.key_id == key_id(lease_key.public_key())
    assert lease.hardware_id == "HW-ÄÖ-1" and lease.features == ("pro", "export")
    with pytest.raises(InvalidLeaseToken, match="Invalid or tampered"):
        verify_lease_token(token, [strong.public_key(), weak.public_key()])
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(InvalidLeaseToken, match="Invalid or tampered"):
        verify_lease_token(token, [other.public_key()])
    # an RSA-signed token verifies with its RSA key, and never with an Ed25519 one
    assert verify_lease_token(_token(strong), trusted).key_index == 0
    with pytest.raises(InvalidLeaseToken, match="Invalid or tampered"):
        verify_lease_token(_token(strong), [lease_key.public_key()])


def test_a_damaged_ed25519_token_is_refused() -> None:
    lease_key = ed25519.Ed25519PrivateKey.generate()
    token = _token(lease_key)
    signed, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    cut = base64.urlsafe_b64encode(raw[:63]).rstrip(b"=").decode()
    flipped = base64.urlsafe_b64encode(bytes([raw[0] ^ 1]) + raw[1:]).rstrip(b"=").decode()
    payload = _payload(token)
    payload["expiresAt"] = "2099-01-01T00:00:00Z"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    for damaged in (
        f"{signed}.{cut}",
        f"{signed}.{flipped}",
        f"{LEASE_TOKEN_PREFIX}{forged}.{signature}",
    ):
        with pytest.raises(InvalidLeaseToken):
            verify_lease_token(damaged, [lease_key.public_key()])
