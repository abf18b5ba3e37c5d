"""The validate endpoint's fast lane (FastValidateMiddleware) answers exactly as its handler.

Every case below is sent twice, through the fast lane and with the lane switched off (so the
route's Litestar handler answers), and must give the same status, headers and bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.licenses import endpoints, fast_validate
from exisone_server.licenses.fast_validate import MAX_FAST_BODY_BYTES, FastValidateMiddleware
from exisone_server.licenses.validate import answer_validation
from exisone_server.models import LicenseStatus

from .helpers import activate_body
from .seeding import Seed

PATH = "/api/license/validate"
_VARYING = {"date", "exisone-signature"}


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


async def _both_lanes(
    seed: Seed, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    headers = {"Content-Type": "application/json", **headers}
    fast = await seed.client.post(PATH, content=body, headers=headers)
    with pytest.MonkeyPatch.context() as patch:

        async def leave_to_the_handler(*_: Any) -> None:
            return None

        patch.setattr(FastValidateMiddleware, "_answer", leave_to_the_handler)
        handler = await seed.client.post(PATH, content=body, headers=headers)
    return fast, handler


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in _VARYING and name != "transfer-encoding"
    )
    return response.status_code, headers, response.content


@pytest.fixture
def handler_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the route's Litestar handler ran (the fast lane's fallback)."""
    calls: list[int] = []
    real = answer_validation

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "answer_validation", counted)
    return calls


async def test_both_lanes_answer_byte_for_byte_alike(seed: Seed, handler_calls: list[int]) -> None:
    product = await seed.product(
        version="2.0.0", minimum_required_version="1.5.0", enforce_version_check=True, trial_days=5
    )
    plan = await seed.plan(features=("Pro", "Export"), duration_days=30)
    license = await seed.license(product, plan=plan)
    activation = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", activation)).status_code == 200
    revoked = await seed.license(product)
    await seed.update_license(revoked, status=LicenseStatus.REVOKED)
    expired = await seed.license(product)
    await seed.update_license(expired, expires_at=utc_now() - timedelta(days=1))
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    email_only = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}
    key, device = license.activation_key, activation["hardwareId"]

    def body(**fields: Any) -> bytes:
        return json.dumps({"hardwareId": device, "productName": product.name, **fields}).encode()

    answered = [
        (body(activationKey=key), token),  # licensed, with features
        (body(activationKey=key, hardwareId="OTHER-DEVICE"), token),  # not activated here
        (body(activationKey=key, version="1.0.0"), token),  # version outdated
        (body(activationKey="AAAA-BBBB-CCCC-DDDD"), token),  # unknown key
        (body(activationKey=revoked.activation_key), token),
        (body(activationKey=expired.activation_key), token),
        (body(activationKey=key, productName="Another"), token),
        (body(hardwareId="TRIAL-DEVICE"), token),  # trial: starts on the first call
        (body(hardwareId="TRIAL-DEVICE"), token),
        (body(activationKey=key, unknownField={"nested": [1, 2]}), token),
        (body(activationKey=key), {**token, "X-Tenant": str(seed.tenant.id)}),
    ]
    refused = [
        (body(activationKey=key), {}),  # 401 missing token
        (body(activationKey=key), {"Authorization": "ExisOneApi exo_at_nope_nope"}),
        (body(activationKey=key), email_only),  # 403 permission
        (body(activationKey=key), {**token, "X-Tenant": "999999"}),  # 403 tenant
        (body(activationKey=key, hardwareId="   "), token),  # 400 blank hardware ID
        (body(activationKey=key, hardwareId="X" * 1000), token),  # 400 too long
        (b'{"activationKey": ', token),  # not JSON
        (b"[]", token),
        (json.dumps({"activationKey": key}).encode(), token),  # no hardwareId
        (json.dumps({"hardwareId": 5}).encode(), token),  # wrong type
        (json.dumps({"hardwareId": "a\u0000b"}).encode(), token),  # NUL
        (b"", token),
    ]
    for content, headers in answered:
        before = len(handler_calls)
        fast, handler = await _both_lanes(seed, content, headers)
        assert _comparable(fast) == _comparable(handler), (content, headers)
        assert fast.status_code == 200
        assert len(handler_calls) == before + 1  # the fast lane answered the first one itself
    for content, headers in refused:
        fast, handler = await _both_lanes(seed, content, headers)
        assert _comparable(fast) == _comparable(handler), (content, headers)
        assert fast.status_code in (400, 401, 403), (content, fast.text)


async def test_signed_answers_come_from_both_lanes(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    assert (
        await seed.api.post("/api/license/activate", activate_body(license, product))
    ).status_code == 200
    headers = {"Authorization": f"ExisOneApi {seed.api.token}", "ExisOne-Nonce": "n" * 32}
    content = json.dumps({"activationKey": license.activation_key, "hardwareId": "HW-1"}).encode()

    fast, handler = await _both_lanes(seed, content, headers)

    assert fast.json() == handler.json() and fast.json()["status"] == "licensed"
    assert fast.headers["exisone-signature"] and handler.headers["exisone-signature"]


async def test_chunked_and_large_bodies_go_to_the_handler_unread(
    seed: Seed, handler_calls: list[int]
) -> None:
    product = await seed.product()
    license = await seed.license(product)
    activation = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", activation)).status_code == 200
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}
    body = {"activationKey": license.activation_key, "hardwareId": activation["hardwareId"]}
    content = json.dumps(body).encode()
    padded = json.dumps({**body, "padding": "x" * MAX_FAST_BODY_BYTES}).encode()

    one_piece = await seed.client.post(PATH, content=content, headers=headers)
    assert handler_calls == []
    chunked = await seed.client.post(PATH, content=_chunks(content), headers=headers)
    large = await seed.client.post(PATH, content=padded, headers=headers)

    assert len(handler_calls) == 2  # the chunked and the large one
    assert one_piece.content == chunked.content == large.content
    assert one_piece.json()["status"] == "licensed"


async def test_a_database_error_is_a_500_not_a_second_try(
    seed: Seed, handler_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*_: Any) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(fast_validate, "answer_validation", database_down)
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}

    response = await seed.client.post(
        PATH, content=json.dumps({"hardwareId": "HW-1", "activationKey": "K"}), headers=headers
    )

    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert handler_calls == []  # the handler did not run the reads again
