"""POST /api/license/validate-encrypted: both request shapes, answers sealed with the request's
key and equal to validate's, one error for every payload that does not open (no oracle), the
token checked first (both databases)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

from exisone.protocol import open_answer, seal_request
from exisone_server.auth import Permission
from exisone_server.crypto.service import rotate_crypto_key
from exisone_server.db import Database
from exisone_server.models import CryptoKey, KeyAlgorithm

from .helpers import activate_body, assert_error
from .seeding import Api, Seed

PATH = "/api/license/validate-encrypted"
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


async def _public_key(seed: Seed, tenant_id: int | None = None) -> rsa.RSAPublicKey:
    async with seed.database.read_session() as session:
        pem = await session.scalar(
            select(CryptoKey.public_key_pem).where(
                CryptoKey.tenant_id == (tenant_id or seed.tenant.id),
                CryptoKey.is_current,
                CryptoKey.algorithm == KeyAlgorithm.RSA,
            )
        )
    assert pem is not None
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


async def _send(api: Api, payload: bytes) -> Any:
    return await api.post(PATH, {"payload": base64.b64encode(payload).decode()})


async def _licensed(seed: Seed) -> dict[str, Any]:
    """A plan with features, a license of it activated on HW-1: validate's body for it."""
    product = await seed.product()
    plan = await seed.plan(features=("Export", "Pro"))
    license = await seed.license(product, plan=plan)
    activated = await seed.api.post("/api/license/activate", activate_body(license, product))
    assert activated.status_code == 200, activated.text
    return {
        "activationKey": license.activation_key,
        "hardwareId": "HW-1",
        "productName": product.name,
    }


async def test_an_envelope_is_answered_sealed_as_validate_answers(seed: Seed) -> None:
    body = await _licensed(seed)
    plain = (await seed.api.post("/api/license/validate", body)).json()
    payload, key = seal_request(await _public_key(seed), _json(body))

    response = await _send(seed.api, payload)

    assert response.status_code == 200, response.text
    sealed = base64.b64decode(response.json()["payload"])
    answer = json.loads(open_answer(key, payload, sealed))
    assert answer == plain and answer["status"] == "licensed"
    assert answer["features"] == ["Export", "Pro"]


async def test_a_long_request_needs_the_envelope(seed: Seed) -> None:
    """A 64-hex hardware ID, a product name and a version pass RSA-OAEP's 190 bytes."""
    body = {
        "activationKey": "ABCD-EFGH-JKMN-PQRS",
        "hardwareId": "F" * 64,
        "productName": "A product with a rather long name",
        "version": "10.20.30-beta.4",
    }
    public_key = await _public_key(seed)
    assert len(_json(body)) > 190
    with pytest.raises(ValueError):
        public_key.encrypt(_json(body), OAEP)
    payload, key = seal_request(public_key, _json(body))
    response = await _send(seed.api, payload)
    answer = json.loads(open_answer(key, payload, base64.b64decode(response.json()["payload"])))
    assert answer["reason"] == "license_not_found"


async def test_exisones_rsa_only_shape_is_accepted(seed: Seed) -> None:
    body = await _licensed(seed)
    public_key = await _public_key(seed)

    plain = await _send(seed.api, public_key.encrypt(_json(body), OAEP))
    assert plain.status_code == 200 and plain.json()["status"] == "licensed"

    key = bytes(range(32))
    with_key = {**body, "responseKey": base64.b64encode(key).decode()}
    payload = public_key.encrypt(_json(with_key), OAEP)
    sealed = await _send(seed.api, payload)
    answer = json.loads(open_answer(key, payload, base64.b64decode(sealed.json()["payload"])))
    assert answer == plain.json()


async def test_an_envelope_for_a_retired_key_still_opens(seed: Seed) -> None:
    old = await _public_key(seed)
    async with seed.database.write() as session:
        await rotate_crypto_key(session, seed.tenant.id, seed.master_key)
    assert (await _public_key(seed)).public_numbers() != old.public_numbers()
    payload, key = seal_request(old, _json({"activationKey": "NOPE", "hardwareId": "HW-1"}))
    response = await _send(seed.api, payload)
    assert response.status_code == 200, response.text
    open_answer(key, payload, base64.b64decode(response.json()["payload"]))


def _altered(payload: bytes, index: int) -> bytes:
    return payload[:index] + bytes([payload[index] ^ 0x01]) + payload[index + 1 :]


async def test_every_payload_that_does_not_open_gets_the_same_400(
    seed: Seed, database: Database
) -> None:
    public_key = await _public_key(seed)
    payload, _ = seal_request(public_key, _json({"activationKey": "K", "hardwareId": "H"}))
    other = await Seed.create(database, seed.master_key, seed.client)
    foreign, _ = seal_request(await _public_key(other), _json({"hardwareId": "H"}))
    rsa_only = public_key.encrypt(_json({"hardwareId": "H"}), OAEP)
    bad = {
        "version": _altered(payload, 0),
        "key id": _altered(payload, 3),
        "wrapped key": _altered(payload, 100),
        "nonce": _altered(payload, 9 + 256 + 2),
        "ciphertext": _altered(payload, 9 + 256 + 12 + 1),
        "tag": _altered(payload, len(payload) - 1),
        "truncated": payload[:-1],
        "cut to the header": payload[:9],
        "another tenant's key": foreign,
        "rsa-only altered": _altered(rsa_only, 17),
        "one byte short of rsa-only": rsa_only[:-1],
        "empty": b"",
        "noise": bytes(300),
    }
    answers = {name: await _send(seed.api, value) for name, value in bad.items()}
    answers["not base64"] = await seed.api.post(PATH, {"payload": "***"})
    for name, response in answers.items():
        assert response.status_code == 400, name
        assert response.json() == {
            "error": "invalid_payload",
            "message": "The payload could not be decrypted.",
        }, name


async def test_what_a_payload_says_is_checked_like_validate(seed: Seed) -> None:
    public_key = await _public_key(seed)
    for plaintext in (b"not json", _json({"activationKey": "K"}), b"[1, 2]"):
        payload, _ = seal_request(public_key, plaintext)
        assert_error(await _send(seed.api, payload), 400, "invalid_request")
    short_key = _json({"hardwareId": "H", "responseKey": base64.b64encode(b"short").decode()})
    assert_error(await _send(seed.api, public_key.encrypt(short_key, OAEP)), 400, "invalid_request")


async def test_the_token_is_checked_before_the_payload(seed: Seed) -> None:
    payload = {"payload": base64.b64encode(b"anything").decode()}
    assert_error(await seed.client.post(PATH, json=payload), 401, "missing_token")
    generate_only = seed.api_with(await seed.token(Permission.GENERATE))
    assert_error(await generate_only.post(PATH, payload), 403, "permission_denied")
