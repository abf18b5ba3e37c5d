"""validate_encrypted(): what goes over the wire is sealed, the answer must open with the
request's own key (both clients, against a stand-in server holding the private key)."""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exisone import AnswerSignatureError, ConfigurationError, ValidationResult
from exisone._sealed import open_request, seal_answer

from .conftest import FakeServer, reply, run

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
ANSWER = {
    "isValid": True,
    "status": "licensed",
    "expirationDate": "2049-12-31T23:59:59Z",
    "features": ["Pro"],
    "reason": "licensed",
}


class SealingServer:
    """Opens each request like the server does, remembers it, answers sealed (or as told)."""

    def __init__(self, answer_key: bytes | None = None) -> None:
        self.answer_key = answer_key  # seal with this instead of the request's key (forgery)
        self.opened: list[dict[str, Any]] = []
        self.payloads: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = base64.b64decode(json.loads(request.content)["payload"])
        opened = open_request(payload, KEY, lambda _: KEY)
        self.opened.append(json.loads(opened.plaintext))
        self.payloads.append(payload)
        assert opened.key is not None
        sealed = seal_answer(self.answer_key or opened.key, payload, json.dumps(ANSWER).encode())
        return reply(200, {"payload": base64.b64encode(sealed).decode()})


async def test_the_request_is_sealed_and_the_answer_opened(make_client: Callable[..., Any]) -> None:
    server = SealingServer()
    client = make_client(FakeServer(server), offline_public_key=PUBLIC_PEM)

    result = await run(client.validate_encrypted("ABCD-EFGH", "HW-9", "MyProduct", "2.0"))

    assert isinstance(result, ValidationResult)
    assert (result.is_valid, result.status, result.features) == (True, "licensed", ["Pro"])
    assert server.opened == [
        {
            "activationKey": "ABCD-EFGH",
            "hardwareId": "HW-9",
            "productName": "MyProduct",
            "version": "2.0",
        }
    ]
    assert server.payloads[0][0] == 1  # an envelope v1, whatever the length


async def test_a_forged_answer_is_refused(make_client: Callable[..., Any]) -> None:
    forger = SealingServer(answer_key=bytes(32))
    client = make_client(FakeServer(forger), offline_public_key=PUBLIC_PEM)
    with pytest.raises(AnswerSignatureError):
        await run(client.validate_encrypted("K", "HW"))


async def test_an_answer_to_another_request_is_refused(make_client: Callable[..., Any]) -> None:
    first = SealingServer()
    replayed: list[httpx.Response] = []

    def replay(request: httpx.Request) -> httpx.Response:
        answer = first(request)  # a good answer to this request...
        replayed.append(answer)
        return replayed[0] if len(replayed) > 1 else answer

    client = make_client(FakeServer(replay), offline_public_key=PUBLIC_PEM)
    await run(client.validate_encrypted("K", "HW"))
    with pytest.raises(AnswerSignatureError):  # ... sent again for the next one
        await run(client.validate_encrypted("K", "HW"))


@pytest.mark.parametrize("body", [dict(ANSWER), {"payload": "***"}, {"payload": 3}])
async def test_an_unsealed_or_unreadable_answer_is_refused(
    make_client: Callable[..., Any], body: dict[str, Any]
) -> None:
    client = make_client(FakeServer(reply(200, body)), offline_public_key=PUBLIC_PEM)
    with pytest.raises(AnswerSignatureError):
        await run(client.validate_encrypted("K", "HW"))


async def test_it_needs_the_tenants_public_key(make_client: Callable[..., Any]) -> None:
    server = FakeServer(reply(200, {}))
    client = make_client(server)
    with pytest.raises(ConfigurationError):
        await run(client.validate_encrypted("K", "HW"))
    assert server.requests == []
