"""Bad input gets a clear 4xx in the documented shape: oversized bodies, wrong content types,
invalid UTF-8, deeply nested JSON; and property tests of the key, hardware-ID and offline-code
parsers (no crash, no false accept)."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exisone.protocol import ExisOneError, is_offline_code, issue_offline_code, verify_offline_code
from exisone_server.kit.activation_keys import (
    KEY_ALPHABET,
    generate_activation_key,
    normalize_activation_key,
)
from exisone_server.kit.hardware import normalize_hardware_id

from .helpers import assert_error
from .seeding import Seed

ENDPOINTS = ["/api/license/activate", "/api/license/validate", "/api/product", "/api/plan"]


async def _raw(
    seed: Seed, path: str, content: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = dict(seed.api.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await seed.client.post(path, content=content, headers=headers)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_body_over_the_limit_is_413(seed: Seed, path: str) -> None:
    body = b'{"hardwareId": "' + b"x" * (1024 * 1024) + b'"}'

    assert_error(await _raw(seed, path, body), 413, "payload_too_large")


async def test_a_chunked_body_over_the_limit_is_413(seed: Seed) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b"x" * 16384

    response = await seed.client.post(
        "/api/license/validate",
        content=chunks(),
        headers={**seed.api.headers, "Content-Type": "application/json"},
    )

    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
async def test_a_non_json_content_type_is_415(seed: Seed, content_type: str) -> None:
    response = await _raw(seed, "/api/license/validate", b'{"hardwareId": "h"}', content_type)

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/problem+json", None],
)
async def test_json_and_missing_content_types_are_accepted(
    seed: Seed, content_type: str | None
) -> None:
    response = await _raw(
        seed, "/api/license/validate", b'{"hardwareId": "h", "productName": "nope"}', content_type
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"hardwareId": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"hardwareId": "\xed\xa0\x80"}', id="surrogate-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep-array"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="deep-object"),
        pytest.param(b'{"hardwareId": "h"', id="truncated"),
        pytest.param(b"\x00\x01\x02", id="binary"),
    ],
)
@pytest.mark.parametrize("path", ["/api/license/activate", "/api/license/validate", "/api/product"])
async def test_undecodable_bodies_are_400(seed: Seed, path: str, content: bytes) -> None:
    response = await _raw(seed, path, content)

    assert response.status_code == 400, response.text
    assert response.json()["error"] in ("invalid_json", "invalid_request")


async def test_deep_nesting_inside_a_valid_field_is_400(seed: Seed) -> None:
    nested = "[" * 5000 + "]" * 5000
    content = ('{"hardwareId": ' + nested + ', "productName": "x"}').encode()

    assert (await _raw(seed, "/api/license/validate", content)).status_code == 400


# -- parsers ------------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_key_normalising_is_idempotent_and_case_blind(text: str) -> None:
    once = normalize_activation_key(text)
    assert normalize_activation_key(once) == once
    assert normalize_activation_key(text.lower()) == normalize_activation_key(text.upper())


def test_generated_keys_use_80_random_bits() -> None:
    keys = {generate_activation_key() for _ in range(2000)}
    assert len(keys) == 2000
    for key in keys:
        groups = key.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(KEY_ALPHABET)
    assert len(KEY_ALPHABET) == 32  # 16 symbols x 5 bits = 80 bits


@given(st.text(max_size=300))
def test_hardware_id_normalising_is_idempotent_and_case_blind(text: str) -> None:
    once = normalize_hardware_id(text)
    assert normalize_hardware_id(once) == once
    assert once == once.strip()
    assert normalize_hardware_id(text.lower()) == normalize_hardware_id(text.upper())


_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PUBLIC = [_PRIVATE.public_key()]
_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PAYLOAD = {
    "productId": 1,
    "productName": "MyProduct",
    "hardwareId": "DEVICE-1",
    "expirationDate": "2049-12-31T23:59:59Z",
    "email": "a@example.com",
    "features": ["Pro"],
    "tenantId": 7,
    "version": "1.0",
}
_CODE = issue_offline_code(_PAYLOAD, _PRIVATE)


def _verified_payload(code: str) -> object:
    return verify_offline_code(code, _PUBLIC).payload


def test_the_reference_code_verifies() -> None:
    assert is_offline_code(_CODE)
    assert _verified_payload(_CODE) == _PAYLOAD


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=len(_CODE) - 1),
    replacement=st.sampled_from(string.ascii_uppercase + string.digits + "-=_ "),
    operation=st.sampled_from(["replace", "insert", "delete"]),
)
def test_a_mutated_offline_code_is_refused_or_means_the_same(
    position: int, replacement: str, operation: str
) -> None:
    if operation == "replace":
        mutated = _CODE[:position] + replacement + _CODE[position + 1 :]
    elif operation == "insert":
        mutated = _CODE[:position] + replacement + _CODE[position:]
    else:
        mutated = _CODE[:position] + _CODE[position + 1 :]
    try:
        payload = _verified_payload(mutated)
    except ExisOneError:
        return
    # accepted only when the mutation was cosmetic (separators, case): never another payload
    assert payload == _PAYLOAD


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")))
def test_random_text_never_crashes_the_decoder_nor_verifies(text: str) -> None:
    try:
        _verified_payload(text)
    except ExisOneError:
        return
    pytest.fail(f"random text verified: {text!r}")


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from(list(_PAYLOAD)), st.text(max_size=20), min_size=1))
def test_a_code_signed_by_another_key_is_refused(changes: dict[str, str]) -> None:
    code = issue_offline_code({**_PAYLOAD, **changes}, _OTHER)
    with pytest.raises(ExisOneError):
        _verified_payload(code)
