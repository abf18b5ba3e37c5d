"""validate_smart and deactivate_smart: offline codes, online keys, servers down or refusing."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

import exisone
from exisone import (
    AsyncExisOneClient,
    AuthenticationError,
    ConnectError,
    DeactivationResult,
    ExisOneClient,
    NotFoundError,
    ServerError,
    SmartValidationResult,
    ValidationStatus,
)

from .conftest import FakeServer, reply, run

VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "offline_code_rsa1024.json").read_text()
)
CODE, HWID, PEM = VECTOR["code"], VECTOR["hardware_id"], VECTOR["public_key_pem"]
EXPIRY = datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
ONLINE_KEY = "AAAA-BBBB-CCCC-DDDD"
UNREACHABLE = "Server unreachable and no offline validation available"
LOCALLY = "License deactivated locally. Server will be notified when connection is restored."


async def eventually(predicate: Callable[[], bool]) -> None:
    """Let background work (a thread or a task) run until ``predicate`` holds (at most ~5 s)."""
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def test_offline_code_is_checked_locally_and_synced_in_background(
    make_client: Callable[..., Any],
) -> None:
    server = FakeServer(reply(200, {"isValid": True, "status": "licensed"}))
    client = make_client(server, offline_public_key=PEM)

    result = await run(client.validate_smart(CODE, HWID, "MyProduct", "1.0.0"))

    assert result == SmartValidationResult(
        is_valid=True,
        status=ValidationStatus.LICENSED,
        expiration_date=EXPIRY,
        features=["Pro", "Export"],
        was_offline=True,
        product_name="MyProduct",
    )
    await eventually(lambda: len(server.requests) == 1)
    sync = server.requests[0]
    assert str(sync.url) == "https://licensing.example.com/api/license/validate"
    assert json.loads(sync.content) == {
        "activationKey": CODE,
        "hardwareId": HWID,
        "productName": "MyProduct",
        "version": "1.0.0",
    }
    assert sync.extensions["timeout"]["connect"] == 5.0


async def test_a_code_the_server_withdrew_is_refused_until_it_accepts_it_again(
    make_client: Callable[..., Any],
) -> None:
    """The background sync's answer is kept: once the server says the code is invalid here
    (the publisher released its seat), validate_smart refuses it, in a new client too (state
    directory), until the server says licensed again."""
    withdrawn = FakeServer(
        reply(200, {"isValid": False, "status": "invalid", "reason": "not_activated"}),
        reply(200, {"isValid": False, "status": "invalid"}),
    )
    client = make_client(withdrawn, offline_public_key=PEM)

    first = await run(client.validate_smart(CODE, HWID, "MyProduct"))
    await eventually(lambda: len(withdrawn.requests) == 1)
    await eventually(lambda: client._core.guard.withdrawn_codes().status(CODE, HWID) == "invalid")
    second = await run(client.validate_smart(CODE, HWID, "MyProduct"))
    restarted = make_client(
        FakeServer(reply(200, {"isValid": True, "status": "licensed"})), offline_public_key=PEM
    )
    after_restart = await run(restarted.validate_smart(CODE, HWID, "MyProduct"))
    await eventually(lambda: restarted._core.guard.withdrawn_codes().status(CODE, HWID) is None)
    accepted_again = await run(restarted.validate_smart(CODE, HWID, "MyProduct"))

    assert first.is_valid  # checked locally; the server's answer comes later
    assert (second.is_valid, second.status) == (False, ValidationStatus.INVALID)
    assert second.was_offline and "no longer accepts this offline code" in second.error_message
    assert after_restart.is_valid is False
    assert accepted_again.is_valid is True


async def test_offline_code_never_waits_on_the_network(
    make_client: Callable[..., Any], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exisone._constants, "SMART_SYNC_TIMEOUT", 0.1)  # close's wait
    release = threading.Event()
    seen = threading.Event()

    def black_hole(request: httpx.Request) -> httpx.Response:
        seen.set()
        release.wait(5)
        raise httpx.ConnectTimeout("black hole")

    async def async_black_hole(request: httpx.Request) -> httpx.Response:
        seen.set()
        await asyncio.Event().wait()  # never answers; aclose cancels it
        raise AssertionError("unreachable")

    client = make_client(black_hole if kind == "sync" else async_black_hole, offline_public_key=PEM)
    result = await run(client.validate_smart(CODE, HWID))
    assert result.is_valid and result.was_offline
    assert not release.is_set()  # returned while the sync was (or was about to be) stuck
    await eventually(seen.is_set)
    if isinstance(client, AsyncExisOneClient):
        tasks = list(client._background)
        assert len(tasks) == 1 and not tasks[0].done()
        await client.aclose()  # waits 0.1 s (patched), then cancels
        assert tasks[0].cancelled() and not client._background
    else:
        client.close()  # waits 0.1 s (patched), then closes; the daemon thread stays bounded
        assert client._background
    release.set()


async def test_close_lets_a_running_background_sync_finish(
    make_client: Callable[..., Any], kind: str
) -> None:
    seen = threading.Event()
    release = threading.Event()
    finished: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.set()
        release.wait(5)
        finished.append(request.url.path)
        return httpx.Response(200, json={"isValid": True})

    async def async_slow(request: httpx.Request) -> httpx.Response:
        seen.set()
        await eventually(release.is_set)
        finished.append(request.url.path)
        return httpx.Response(200, json={"isValid": True})

    client = make_client(slow if kind == "sync" else async_slow, offline_public_key=PEM)
    assert (await run(client.validate_smart(CODE, HWID))).is_valid
    await eventually(seen.is_set)
    threading.Timer(0.05, release.set).start()
    if isinstance(client, AsyncExisOneClient):
        await client.aclose()
    else:
        client.close()
    assert finished == ["/api/license/validate"]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("t"),
        reply(500),
        reply(401, {"error": "x"}),
    ],
)
async def test_background_sync_failures_are_ignored(
    make_client: Callable[..., Any], failure: Any
) -> None:
    server = FakeServer(failure)
    client = make_client(server, offline_public_key=PEM)
    result = await run(client.validate_smart(CODE, HWID))
    assert result.is_valid
    await eventually(lambda: len(server.requests) == 1)
    await asyncio.sleep(0.05)
    assert len(server.requests) == 1  # one attempt, no retries


@pytest.mark.parametrize(
    ("code", "hwid", "product", "status"),
    [
        (CODE, "OTHER-MACHINE", None, ValidationStatus.INVALID),
        (CODE, HWID, "AnotherProduct", ValidationStatus.INVALID),
        (CODE[:-3] + "ZZZ", HWID, None, ValidationStatus.INVALID),
    ],
)
async def test_rejected_offline_code_is_not_synced(
    make_client: Callable[..., Any], code: str, hwid: str, product: Any, status: ValidationStatus
) -> None:
    server = FakeServer()
    client = make_client(server, offline_public_key=PEM)
    result = await run(client.validate_smart(code, hwid, product))
    assert not result.is_valid and result.status is status and result.was_offline
    assert result.error_message
    await asyncio.sleep(0.05)
    assert server.requests == []


async def test_online_key_checked_by_server(make_client: Callable[..., Any]) -> None:
    answer = {
        "isValid": False,
        "status": "version_outdated",
        "expirationDate": "2030-01-01T00:00:00Z",
        "features": ["A"],
        "serverVersion": "3.0",
        "minimumRequiredVersion": "2.0",
    }
    server = FakeServer(reply(200, answer))
    client = make_client(server, offline_public_key=PEM)
    result = await run(client.validate_smart(ONLINE_KEY, HWID, "MyProduct", "1.0"))
    assert result == SmartValidationResult(
        is_valid=False,
        status="version_outdated",
        expiration_date=datetime(2030, 1, 1, tzinfo=timezone.utc),
        features=["A"],
        was_offline=False,
        product_name="MyProduct",
        server_version="3.0",
        minimum_required_version="2.0",
    )
    assert server.json() == {
        "activationKey": ONLINE_KEY,
        "hardwareId": HWID,
        "productName": "MyProduct",
        "version": "1.0",
    }


@pytest.mark.parametrize("public_key", [None, PEM])
@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("black hole"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_online_key_with_unreachable_server_is_offline(
    make_client: Callable[..., Any], sleeps: list[float], failure: Exception, public_key: Any
) -> None:
    server = FakeServer(failure)
    client = make_client(server, offline_public_key=public_key)
    result = await run(client.validate_smart(ONLINE_KEY, HWID, "MyProduct"))
    assert result == SmartValidationResult(
        is_valid=False,
        status=ValidationStatus.OFFLINE,
        was_offline=True,
        error_message=UNREACHABLE,
        product_name="MyProduct",
    )
    assert result.status == "offline"
    assert len(server.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (reply(401, {"error": "invalid_token", "message": "bad token"}), AuthenticationError),
        (reply(404, {"error": "not_found"}), NotFoundError),
        (reply(503), ServerError),
    ],
)
async def test_online_key_server_errors_are_raised_not_disguised_as_offline(
    make_client: Callable[..., Any], answer: httpx.Response, error: type[Exception]
) -> None:
    client = make_client(FakeServer(answer), offline_public_key=PEM)
    with pytest.raises(error):
        await run(client.validate_smart(ONLINE_KEY, HWID, "MyProduct"))


async def test_deactivate_smart_online_success(make_client: Callable[..., Any]) -> None:
    server = FakeServer(reply(200))
    client = make_client(server)
    result = await run(client.deactivate_smart(ONLINE_KEY, HWID, "MyProduct"))
    assert result == DeactivationResult(success=True, server_notified=True)
    assert server.json() == {
        "licenseKey": ONLINE_KEY,
        "hardwareId": HWID,
        "productName": "MyProduct",
    }


async def test_deactivate_smart_refusal_is_not_success(make_client: Callable[..., Any]) -> None:
    body = {"error": "hardware_mismatch", "message": "Deactivate from the activated machine"}
    client = make_client(FakeServer(reply(403, body)))
    result = await run(client.deactivate_smart(ONLINE_KEY, HWID, "MyProduct"))
    assert result == DeactivationResult(
        success=False,
        server_notified=True,
        error_message="Deactivate from the activated machine",
        error_code="hardware_mismatch",
        status_code=403,
    )


async def test_deactivate_smart_unreachable_is_local_success(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(httpx.ConnectError("refused"))
    client = make_client(server)
    result = await run(client.deactivate_smart(ONLINE_KEY, HWID, "MyProduct"))
    assert result == DeactivationResult(success=True, server_notified=False, error_message=LOCALLY)
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (reply(200), DeactivationResult(success=True, server_notified=True)),
        (httpx.ConnectTimeout("black hole"), DeactivationResult(True, False, LOCALLY)),
        (
            reply(404, {"error": "not_found", "message": "Unknown key"}),
            DeactivationResult(
                True,
                False,
                "Offline code deactivated locally; the server could not be told "
                "(HTTP 404 (not_found): Unknown key).",
                "not_found",
                404,
            ),
        ),
    ],
)
async def test_deactivate_smart_offline_code_is_local_with_one_short_attempt(
    make_client: Callable[..., Any], sleeps: list[float], answer: Any, expected: DeactivationResult
) -> None:
    server = FakeServer(answer)
    client = make_client(server, offline_public_key=PEM)
    assert await run(client.deactivate_smart(CODE, HWID, "MyProduct")) == expected
    assert len(server.requests) == 1 and sleeps == []
    assert server.last.extensions["timeout"]["read"] == 5.0
    assert server.json()["licenseKey"] == CODE


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("cls", [ExisOneClient, AsyncExisOneClient])
async def test_closed_port_over_real_sockets(cls: Any) -> None:
    """No mock: a refused TCP connection is "offline" for validate_smart, a result for activate."""
    client = cls(base_url=closed_port_url(), max_retries=0, offline_public_key=PEM)
    try:
        smart = await run(client.validate_smart(ONLINE_KEY, HWID, "MyProduct"))
        assert smart.status == "offline" and smart.was_offline and not smart.is_valid
        activation = await run(client.activate(ONLINE_KEY, "e@x.org", HWID, "MyProduct"))
        assert activation.error_code == "network_error"
        assert activation.error_message.startswith("Network error: ")
        offline = await run(client.validate_smart(CODE, HWID, "MyProduct"))
        assert offline.is_valid and offline.was_offline
        gone = await run(client.deactivate_smart(ONLINE_KEY, HWID, "MyProduct"))
        assert (gone.success, gone.server_notified) == (True, False)
        with pytest.raises(ConnectError):
            await run(client.validate(ONLINE_KEY, HWID))
    finally:
        if isinstance(client, AsyncExisOneClient):
            await client.aclose()
        else:
            client.close()
