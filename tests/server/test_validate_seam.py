"""The validate seam (ahead of the framework) answers exactly as the framework's route.

Every case is sent twice: to the seam, and to the framework's route (the seam switched off);
both must give the same status, headers and bytes. The seam also stands in for every app-wide
layer of the framework: a layer it does not account for fails the tripwire below.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from exisone.protocol import SIGNATURE_HEADER, load_public_keys, verify_answer
from exisone_server.app import SEAM_STANDS_IN_FOR, ExisOneApp
from exisone_server.auth import Permission
from exisone_server.fastpath import reader as fast_reader_module
from exisone_server.kit.time import utc_now
from exisone_server.licenses import endpoints, validate_seam
from exisone_server.models import LicenseStatus

from .helpers import activate_body, comparable, seam_and_route
from .seeding import Seed

PATH = "/api/license/validate"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


@pytest.fixture
def handler_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the framework's validate handler ran."""
    calls: list[int] = []
    real = endpoints.answer_validation

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "answer_validation", counted)
    return calls


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fast reader's reads, by method name."""
    calls: list[str] = []
    for cls in (
        fast_reader_module.SqliteReader,
        fast_reader_module.PostgresReader,
        fast_reader_module.EngineReader,
    ):
        for name in ("token", "online_key_rows", "token_and_online_key"):
            real = getattr(cls, name)

            def counted(real: Any = real, name: str = name) -> Any:
                async def read(self: Any, *args: Any) -> Any:
                    calls.append(name)
                    return await real(self, *args)

                return read

            monkeypatch.setattr(cls, name, counted())
    return calls


def _layers(app: ExisOneApp) -> set[tuple[str, str]]:
    """The app-wide layers of the framework, as (kind, name)."""
    layers = {("middleware", getattr(m, "middleware", m).__name__) for m in app.middleware}
    layers |= {("before_send", hook.__name__) for hook in app.before_send}
    layers |= {("plugin", type(plugin).__name__) for plugin in app.plugins.init}
    layers |= {("exception_handler", kind.__name__) for kind in app.exception_handlers}
    layers |= {("guard", guard.__name__) for guard in app.guards}
    for kind in ("before_request", "after_request", "after_response"):
        hook = getattr(app, kind)
        if hook is not None:
            layers.add((kind, hook.__name__))
    return layers


def test_the_seam_accounts_for_every_app_wide_layer(app: ExisOneApp) -> None:
    """A middleware, hook, plugin, guard or exception handler added to the app must be added
    to SEAM_STANDS_IN_FOR (and done by the seam), or validate would silently skip it."""
    layers = _layers(app)
    assert layers - set(SEAM_STANDS_IN_FOR) == set(), "a layer the validate seam does not do"
    assert set(SEAM_STANDS_IN_FOR) - layers == set(), "SEAM_STANDS_IN_FOR names a layer gone"


def test_the_tripwire_sees_a_new_layer(app: ExisOneApp) -> None:
    async def cors(*_: Any) -> None:
        return None

    app.before_send.append(cors)  # type: ignore[arg-type]

    assert ("before_send", "cors") in _layers(app) - set(SEAM_STANDS_IN_FOR)


async def test_the_seam_answers_byte_for_byte_as_the_route(
    seed: Seed, app: ExisOneApp, handler_calls: list[int]
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
    for content, headers in answered + refused:
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route), (content, headers)
    content, headers = answered[0]
    seam, route = await seam_and_route(
        seed.client, app, "https://testserver" + PATH, content, headers
    )
    assert comparable(seam) == comparable(route)
    assert seam.headers["strict-transport-security"].startswith("max-age=")


async def test_the_seam_answers_every_well_formed_request_itself(
    seed: Seed, handler_calls: list[int], reads: list[str]
) -> None:
    """Answers and refusals come from the seam, each with one read of the database; only a
    body that does not decode reaches the framework, which reads nothing."""
    product = await seed.product()
    license = await seed.license(product)
    activation = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", activation)).status_code == 200
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    email_only = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}
    body = {"activationKey": license.activation_key, "hardwareId": activation["hardwareId"]}
    reads.clear()
    for headers, fields, status in [
        (token, {}, 200),
        ({"Authorization": "ExisOneApi exo_at_nope_nope"}, {}, 401),
        (email_only, {}, 403),
        (token, {"hardwareId": "   "}, 400),
    ]:
        response = await seed.client.post(
            PATH,
            content=json.dumps({**body, **fields}),
            headers={"Content-Type": "application/json", **headers},
        )
        assert response.status_code == status, response.text
        assert reads == ["token_and_online_key"], (status, reads)
        reads.clear()
    malformed = await seed.client.post(
        PATH, content=b'{"activationKey": ', headers={"Content-Type": "application/json", **token}
    )

    assert malformed.status_code == 400, malformed.text
    assert reads == []
    assert handler_calls == []


async def test_the_seam_signs_answers_as_the_route_does(seed: Seed, app: ExisOneApp) -> None:
    product = await seed.product()
    license = await seed.license(product)
    activation = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", activation)).status_code == 200
    headers = {"Authorization": f"ExisOneApi {seed.api.token}", "ExisOne-Nonce": "n" * 32}
    body = {"activationKey": license.activation_key, "hardwareId": activation["hardwareId"]}
    public_key = (await seed.api.get("/api/crypto/keys/public")).text

    for fields in ({}, {"hardwareId": "  "}):  # an answer, and a refusal (400)
        content = json.dumps({**body, **fields}).encode()
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route)
        for response in (seam, route):
            assert SIGNATURE_HEADER.lower() in response.headers
            _verify(response, public_key, content, "n" * 32)


async def test_a_refused_caller_gets_a_signed_429(
    seed: Seed, app: ExisOneApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.seam is not None
    limiter = app.seam.limiter
    monkeypatch.setattr(
        limiter, "settings", replace(limiter.settings, lookup_per_ip=1, refresh_seconds=0)
    )
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"ExisOneApi {seed.api.token}",
        "ExisOne-Nonce": "m" * 32,
    }
    public_key = (await seed.api.get("/api/crypto/keys/public")).text
    content = json.dumps({"activationKey": "ZZZZ-5555-5555-5555", "hardwareId": "h"}).encode()

    first = await seed.client.post(PATH, content=content, headers=headers)
    refused = await seed.client.post(PATH, content=content, headers=headers)

    assert first.json()["reason"] == "license_not_found"
    assert refused.status_code == 429
    _verify(refused, public_key, content, "m" * 32)


def _verify(response: httpx.Response, public_key: str, request_body: bytes, nonce: str) -> None:
    """The client's own check of a signed answer passes."""
    verify_answer(
        response.headers[SIGNATURE_HEADER],
        load_public_keys(public_key),
        method="POST",
        path=PATH,
        nonce=nonce,
        status=response.status_code,
        request_body=request_body,
        response_body=response.content,
    )


async def test_chunked_bodies_are_answered_by_the_seam(
    seed: Seed, handler_calls: list[int]
) -> None:
    product = await seed.product()
    license = await seed.license(product)
    activation = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", activation)).status_code == 200
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}
    body = {"activationKey": license.activation_key, "hardwareId": activation["hardwareId"]}
    content = json.dumps(body).encode()

    one_piece = await seed.client.post(PATH, content=content, headers=headers)
    chunked = await seed.client.post(PATH, content=_chunks(content), headers=headers)

    assert one_piece.content == chunked.content
    assert one_piece.json()["status"] == "licensed"
    assert handler_calls == []


@pytest.mark.parametrize("lane", ["seam", "route"])
async def test_a_database_error_is_a_500_not_a_second_try(
    seed: Seed, app: ExisOneApp, monkeypatch: pytest.MonkeyPatch, lane: str
) -> None:
    tries: list[int] = []

    async def database_down(*_: Any) -> None:
        tries.append(1)
        raise ConnectionError("database down")

    monkeypatch.setattr(validate_seam, "answer_validation", database_down)
    monkeypatch.setattr(endpoints, "answer_validation", database_down)
    if lane == "route":
        monkeypatch.setattr(app, "seam", None)
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}

    response = await seed.client.post(
        PATH, content=json.dumps({"hardwareId": "HW-1", "activationKey": "K"}), headers=headers
    )

    _assert_internal_error(response)
    assert tries == [1]


async def test_a_failing_limit_check_is_a_500_in_the_documented_shape(
    seed: Seed, app: ExisOneApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*_: Any) -> None:
        raise ConnectionError("database down")

    assert app.seam is not None
    monkeypatch.setattr(app.seam.limiter, "_refresh", database_down)
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}

    response = await seed.client.post(
        PATH, content=json.dumps({"hardwareId": "HW-1", "activationKey": "K"}), headers=headers
    )

    _assert_internal_error(response)


async def test_the_seam_reads_no_more_than_the_body_limit(
    seed: Seed, app: ExisOneApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body longer than its Content-Length said and than the limit is refused (413) as the
    framework refuses it, after reading no more than the limit."""
    assert app.seam is not None
    limiter = app.seam.limiter
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
    pieces = [body[i : i + 512] for i in range(0, len(body), 512)]
    incoming = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "payload_too_large"
    assert len(incoming) == len(pieces) - 3  # read 3 pieces of 512 bytes: just past 1024


def _assert_internal_error(response: httpx.Response) -> None:
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "Internal server error."}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
