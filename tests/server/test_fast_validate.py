"""The validate endpoint's fast lanes (ValidateEdge, FastValidateMiddleware) answer exactly as
its handler.

Every case below is sent three times: to the edge (ahead of the framework), to the route's lane
(the edge switched off) and to the route's Litestar handler (both lanes switched off); all must
give the same status, headers and bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from exisone_server.app import ExisOneApp
from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.licenses import endpoints, fast_validate
from exisone_server.licenses.fast_validate import (
    MAX_FAST_BODY_BYTES,
    FastValidateMiddleware,
    ValidateEdge,
)
from exisone_server.licenses.validate import answer_validation
from exisone_server.models import LicenseStatus

from .helpers import activate_body
from .seeding import Seed

PATH = "/api/license/validate"
_VARYING = {"date", "exisone-signature"}


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


async def _three_lanes(
    seed: Seed, body: bytes, headers: dict[str, str], url: str = PATH
) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """The answers of the edge, of the route's lane and of the handler."""
    headers = {"Content-Type": "application/json", **headers}
    edge = await seed.client.post(url, content=body, headers=headers)
    with pytest.MonkeyPatch.context() as patch:

        async def to_the_framework(self: ValidateEdge, *args: Any) -> None:
            await self.framework(*args)

        patch.setattr(ValidateEdge, "__call__", to_the_framework)
        route = await seed.client.post(url, content=body, headers=headers)

        async def leave_to_the_handler(*_: Any) -> None:
            return None

        patch.setattr(fast_validate, "fast_answer", leave_to_the_handler)
        handler = await seed.client.post(url, content=body, headers=headers)
    return edge, route, handler


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in _VARYING and name != "transfer-encoding"
    )
    return response.status_code, headers, response.content


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a request reached the route's stack (the edge left it to the framework)."""
    calls: list[int] = []
    real = FastValidateMiddleware.__call__

    async def counted(self: FastValidateMiddleware, *args: Any) -> None:
        calls.append(1)
        await real(self, *args)

    monkeypatch.setattr(FastValidateMiddleware, "__call__", counted)
    return calls


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


async def test_the_lanes_answer_byte_for_byte_as_the_handler(
    seed: Seed, route_calls: list[int], handler_calls: list[int]
) -> None:
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
        routed, handled = len(route_calls), len(handler_calls)
        edge, route, handler = await _three_lanes(seed, content, headers)
        assert _comparable(edge) == _comparable(route) == _comparable(handler), (content, headers)
        assert edge.status_code == 200
        assert len(route_calls) == routed + 2  # the edge answered the first itself, the route
        assert len(handler_calls) == handled + 1  # lane the second: the handler only the third
    for content, headers in refused:
        edge, route, handler = await _three_lanes(seed, content, headers)
        assert _comparable(edge) == _comparable(route) == _comparable(handler), (content, headers)
        assert edge.status_code in (400, 401, 403), (content, edge.text)
    content, headers = answered[0]
    edge, route, handler = await _three_lanes(seed, content, headers, "https://testserver" + PATH)
    assert _comparable(edge) == _comparable(route) == _comparable(handler)
    assert edge.headers["strict-transport-security"].startswith("max-age=")


async def test_signed_answers_come_from_the_route(seed: Seed, route_calls: list[int]) -> None:
    product = await seed.product()
    license = await seed.license(product)
    assert (
        await seed.api.post("/api/license/activate", activate_body(license, product))
    ).status_code == 200
    headers = {"Authorization": f"ExisOneApi {seed.api.token}", "ExisOne-Nonce": "n" * 32}
    content = json.dumps({"activationKey": license.activation_key, "hardwareId": "HW-1"}).encode()

    edge, route, handler = await _three_lanes(seed, content, headers)

    assert edge.json() == route.json() == handler.json()
    assert edge.json()["status"] == "licensed"
    assert edge.headers["exisone-signature"] and handler.headers["exisone-signature"]
    assert len(route_calls) == 3  # the edge leaves a nonce to the framework (answer signing)


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


@pytest.mark.parametrize("lane", ["edge", "route"])
async def test_a_database_error_is_a_500_not_a_second_try(
    seed: Seed,
    route_calls: list[int],
    handler_calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
    lane: str,
) -> None:
    tries: list[int] = []

    async def database_down(*_: Any) -> None:
        tries.append(1)
        raise ConnectionError("database down")

    monkeypatch.setattr(fast_validate, "answer_validation", database_down)
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}
    if lane == "route":
        headers["ExisOne-Nonce"] = "n" * 32  # the edge leaves it to the route's lane

    response = await seed.client.post(
        PATH, content=json.dumps({"hardwareId": "HW-1", "activationKey": "K"}), headers=headers
    )

    _assert_internal_error(response)
    assert tries == [1]  # neither the route's lane nor the handler ran the reads again
    assert len(route_calls) == (0 if lane == "edge" else 1)
    assert handler_calls == []


async def test_a_failing_limit_check_is_a_500_in_the_documented_shape(
    seed: Seed, app: ExisOneApp, route_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*_: Any) -> None:
        raise ConnectionError("database down")

    assert app.validate_edge is not None
    monkeypatch.setattr(app.validate_edge.limiter, "_refresh", database_down)
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}

    response = await seed.client.post(
        PATH, content=json.dumps({"hardwareId": "HW-1", "activationKey": "K"}), headers=headers
    )

    _assert_internal_error(response)
    assert route_calls == []


async def test_the_edge_reads_no_more_than_the_body_limit(
    seed: Seed, app: ExisOneApp, route_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body longer than its Content-Length said and than the limit goes to the framework,
    which refuses it (413), as it would without the edge."""
    assert app.validate_edge is not None
    limiter = app.validate_edge.limiter
    monkeypatch.setattr(limiter, "settings", replace(limiter.settings, max_body_bytes=1024))
    body = json.dumps({"hardwareId": "HW-1", "activationKey": "K", "pad": "x" * 2000}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),  # says less than it sends
            (b"authorization", f"ExisOneApi {seed.api.token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "payload_too_large"
    assert route_calls == [1]


def _assert_internal_error(response: httpx.Response) -> None:
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "Internal server error."}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
