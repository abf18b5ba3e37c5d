"""Signed answers: only when asked, over the documented canonical string, with the current key
(also right after a rotation); offline codes name their key."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from exisone.protocol import (
    canonical_message,
    load_public_keys,
    parse_signature_header,
    verify_answer,
    verify_offline_code,
)
from exisone_server.crypto.service import rotate_crypto_key
from exisone_server.signing import keys as signing_keys

from .seeding import Seed

NONCE = "AAAAAAAAAAAAAAAAAAAAAA"


async def _public_key(seed: Seed) -> tuple[str, str]:
    response = await seed.api.get("/api/crypto/keys/public")
    assert response.status_code == 200
    return response.text, response.headers["X-Key-Fingerprint"]


async def _activated(seed: Seed) -> tuple[str, str]:
    product = await seed.product()
    license = await seed.license(product)
    response = await seed.api.post(
        "/api/license/activate",
        {"activationKey": license.activation_key, "hardwareId": "HW-1", "productName": "MyProduct"},
    )
    assert response.status_code == 200, response.text
    return license.activation_key, "HW-1"


def _verify(response: httpx.Response, pem: str, path: str) -> None:
    keys = load_public_keys(pem)
    verify_answer(
        response.headers.get("ExisOne-Signature"),
        keys,
        method="POST",
        path=path,
        nonce=NONCE,
        status=response.status_code,
        request_body=response.request.content,
        response_body=response.content,
    )


async def test_unsigned_without_a_nonce_signed_with_one(seed: Seed) -> None:
    key, hwid = await _activated(seed)
    pem, fingerprint = await _public_key(seed)
    body = {"activationKey": key, "hardwareId": hwid}
    plain = await seed.api.post("/api/license/validate", body)
    signed = await seed.api.post("/api/license/validate", body, headers={"ExisOne-Nonce": NONCE})
    assert "ExisOne-Signature" not in plain.headers
    assert plain.json() == signed.json() and signed.json()["isValid"] is True
    signature = parse_signature_header(signed.headers["ExisOne-Signature"])
    assert signature.key_id == fingerprint
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    message = canonical_message(
        method="POST",
        path="/api/license/validate",
        nonce=NONCE,
        timestamp=signature.timestamp,
        status=200,
        request_digest=hashlib.sha256(signed.request.content).hexdigest(),
        response_digest=hashlib.sha256(signed.content).hexdigest(),
    )
    public.verify(signature.signature, message, padding.PKCS1v15(), hashes.SHA256())


async def test_activate_deactivate_and_error_answers_are_signed(seed: Seed) -> None:
    key, hwid = await _activated(seed)
    pem, _ = await _public_key(seed)
    nonce = {"ExisOne-Nonce": NONCE}
    again = await seed.api.post(
        "/api/license/activate",
        {"activationKey": key, "hardwareId": hwid, "productName": "MyProduct"},
        headers=nonce,
    )
    _verify(again, pem, "/api/license/activate")
    unknown = await seed.api.post(
        "/api/license/activate",
        {"activationKey": "NOPE-NOPE", "hardwareId": hwid, "productName": "MyProduct"},
        headers=nonce,
    )
    assert unknown.status_code == 404
    _verify(unknown, pem, "/api/license/activate")
    done = await seed.api.post(
        "/api/license/deactivate", {"licenseKey": key, "hardwareId": hwid}, headers=nonce
    )
    _verify(done, pem, "/api/license/deactivate")
    repeated = await seed.api.post(
        "/api/license/deactivate", {"licenseKey": key, "hardwareId": hwid}, headers=nonce
    )
    assert repeated.status_code == 200 and repeated.json()["wasActive"] is False
    _verify(repeated, pem, "/api/license/deactivate")


async def test_other_paths_and_bad_nonces_and_401_are_not_signed(seed: Seed) -> None:
    key, _ = await _activated(seed)
    features = await seed.api.post(
        "/api/license/features/csv", {"activationKey": key}, headers={"ExisOne-Nonce": NONCE}
    )
    short = await seed.api.post(
        "/api/license/validate",
        {"activationKey": key, "hardwareId": "HW-1"},
        headers={"ExisOne-Nonce": "short"},
    )
    anonymous = await seed.client.post(
        "/api/license/validate",
        json={"activationKey": key, "hardwareId": "HW-1"},
        headers={"ExisOne-Nonce": NONCE},
    )
    assert features.status_code == 200 and short.status_code == 200
    assert anonymous.status_code == 401
    for response in (features, short, anonymous):
        assert "ExisOne-Signature" not in response.headers


async def test_rotation_signs_with_the_new_key_and_old_codes_keep_verifying(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing_keys, "CURRENT_KEY_TTL_S", 0.0)  # see the rotation at once
    key, hwid = await _activated(seed)
    old_pem, old_fingerprint = await _public_key(seed)
    issued = await seed.api.post(
        "/api/license/offline-code", {"activationKey": key, "hardwareId": hwid}
    )
    assert issued.status_code == 200, issued.text
    code = issued.json()["offlineCode"]
    before = await seed.api.post(
        "/api/license/validate",
        {"activationKey": key, "hardwareId": hwid},
        headers={"ExisOne-Nonce": NONCE},
    )
    async with seed.database.write() as session:
        await rotate_crypto_key(session, seed.tenant.id, seed.master_key)
    new_pem, new_fingerprint = await _public_key(seed)
    after = await seed.api.post(
        "/api/license/validate",
        {"activationKey": key, "hardwareId": hwid},
        headers={"ExisOne-Nonce": NONCE},
    )
    assert parse_signature_header(before.headers["ExisOne-Signature"]).key_id == old_fingerprint
    assert parse_signature_header(after.headers["ExisOne-Signature"]).key_id == new_fingerprint
    _verify(after, new_pem, "/api/license/validate")
    trusted = load_public_keys([new_pem, old_pem])
    verified = verify_offline_code(code, trusted)
    assert verified.payload["kid"] == old_fingerprint and verified.key_index == 1
