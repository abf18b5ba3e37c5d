"""The test vector of docs/encrypted-validation.md opens and seals exactly as the page says,
with the format's one implementation (exisone._sealed, used by the client and the server)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import exisone
from exisone.protocol import (
    envelope_key_id,
    open_answer,
    open_request,
    seal_answer,
    seal_request,
)
from tests.examples.live_server import DemoServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "encrypted-validation.md"


def _vector() -> dict[str, Any]:
    (block,) = re.findall(r"<!-- test-vector -->\n```json\n(.*?)```", DOC.read_text("utf-8"), re.S)
    vector: dict[str, Any] = json.loads(block)
    return vector


def _private_key(vector: dict[str, Any]) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(vector["privateKeyPem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_the_envelope_opens_to_the_request_and_its_key() -> None:
    vector = _vector()
    private_key = _private_key(vector)
    envelope = vector["envelope"]
    payload = base64.b64decode(envelope["payload"])
    public_key = serialization.load_pem_public_key(vector["publicKeyPem"].encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.public_numbers() == private_key.public_key().public_numbers()
    assert envelope_key_id(public_key).hex() == vector["keyId"] == payload[1:9].hex()

    opened = open_request(payload, private_key, {payload[1:9]: private_key}.get)

    assert opened.plaintext.decode() == envelope["requestJson"]
    assert opened.key is not None and opened.key.hex() == envelope["key"]
    again, _ = seal_request(
        public_key,
        envelope["requestJson"].encode(),
        key=bytes.fromhex(envelope["key"]),
        nonce=bytes.fromhex(envelope["nonce"]),
    )
    k = private_key.key_size // 8
    assert again[:9] == payload[:9] and again[9 + k :] == payload[9 + k :]  # RSA block aside


def test_the_answers_seal_to_the_vector_bytes() -> None:
    vector = _vector()
    for shape in ("envelope", "rsaOnly"):
        case = vector[shape]
        request_payload = base64.b64decode(case["payload"])
        key = bytes.fromhex(vector["envelope"]["key"])
        sealed = seal_answer(
            key,
            request_payload,
            case["answerJson"].encode(),
            nonce=bytes.fromhex(case["answerNonce"]),
        )
        assert base64.b64encode(sealed).decode() == case["answerPayload"]
        assert open_answer(key, request_payload, sealed).decode() == case["answerJson"]


def test_the_rsa_only_request_opens_with_its_response_key() -> None:
    vector = _vector()
    private_key = _private_key(vector)
    case = vector["rsaOnly"]
    payload = base64.b64decode(case["payload"])
    assert len(payload) == 256

    opened = open_request(payload, private_key, lambda _: None)

    assert opened.key is None and opened.plaintext.decode() == case["requestJson"]
    response_key = base64.b64decode(json.loads(case["requestJson"])["responseKey"])
    assert response_key.hex() == vector["envelope"]["key"]


def test_the_pages_example_runs_against_the_server(
    server: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S)
    with server.publisher() as http:
        key = http.post(
            "/api/activationkey/generate",
            json={"productName": server.product, "email": "sealed@example.com"},
        ).json()["activationKey"]
        assert (
            http.post(
                "/api/license/activate",
                json={
                    "activationKey": key,
                    "hardwareId": exisone.generate_hardware_id(),
                    "productName": server.product,
                    "email": "sealed@example.com",
                },
            ).status_code
            == 200
        )
    code = (
        example.replace("https://licensing.example.com", server.base_url)
        .replace('"exo_at_..."', repr(server.token))
        .replace('"MyProduct"', repr(server.product))
    )
    namespace = {"PUBLIC_KEY_PEM": server.demo["publicKeyPem"], "key": key}

    exec(compile(code, DOC.name, "exec"), namespace)

    assert capsys.readouterr().out.startswith("True licensed ")
