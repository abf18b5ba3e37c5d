"""Request bodies and small assertions shared by the server tests."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone.protocol import ErrorCode, ValidationReason
from exisone_server.db import Database
from exisone_server.kit import time as server_time
from exisone_server.models import License, Product, RateLimitCounter, WebhookEndpoint

#: The endpoints the clients call: their answers use only the codes of exisone.protocol.
CLIENT_ENDPOINTS = re.compile(
    r"/api/license/(activate|validate|deactivate|features/csv|lease|lease/heartbeat|lease/release"
    r"|[^/]+/usage)|/api/support/ticket"
)


def activate_body(
    license: License, product: Product, hardware_id: str = "HW-1", **extra: Any
) -> dict[str, Any]:
    return {
        "activationKey": license.activation_key,
        "hardwareId": hardware_id,
        "productName": product.name,
        "email": "user@example.com",
        **extra,
    }


def validate_body(
    license: License | None, hardware_id: str = "HW-1", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"hardwareId": hardware_id, **extra}
    if license is not None:
        body["activationKey"] = license.activation_key
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with the documented error body carrying ``code``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


def check_protocol(path: str, response: httpx.Response) -> None:
    """An answer of a client endpoint speaks the protocol: an error's ``error`` is an
    :class:`ErrorCode`; a validation's ``reason`` is a :class:`ValidationReason` with its
    ``status`` and ``isValid``."""
    if not CLIENT_ENDPOINTS.fullmatch(path.split("?")[0]):
        return
    body = response.json()
    if response.status_code >= 400:
        assert body["error"] in set(ErrorCode), f"{path}: {body}"
    elif path.startswith("/api/license/validate") and "reason" in body:
        reason = ValidationReason(body["reason"])
        assert (body["status"], body["isValid"]) == (reason.status, reason.is_valid), body


async def subscribe(database: Database, tenant_id: int, *events: str) -> None:
    """An active webhook endpoint of the tenant for ``events`` (its deliveries go nowhere)."""
    async with database.write() as session:
        session.add(
            WebhookEndpoint(
                tenant_id=tenant_id,
                url="https://hooks.example.com/events",
                secret_nonce=b"n",
                secret_ciphertext=b"x",
                master_key_id="test",
                events=list(events),
                is_active=True,
            )
        )


#: Headers that differ between two answers to one request: the time, a fresh signature.
_VARYING_HEADERS = frozenset({"date", "exisone-signature", "transfer-encoding"})


async def seam_and_route(
    client: httpx.AsyncClient, app: Any, url: str, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The answers to one POST of the seam, then of the framework's route (seam switched off),
    at one second of the server's clock: answers carry now-based dates, and the two calls may
    otherwise straddle a second."""
    headers = {"Content-Type": "application/json", **headers}
    with pytest.MonkeyPatch.context() as patch:
        still = time.time()
        patch.setattr(server_time, "time", SimpleNamespace(time=lambda: still))
        seam = await client.post(url, content=body, headers=headers)
        patch.setattr(app, "seam", None)
        route = await client.post(url, content=body, headers=headers)
    return seam, route


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers (but the varying ones) and body, to compare two answers."""
    headers = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in _VARYING_HEADERS
    )
    return response.status_code, headers, response.content


async def counters_in(database: Database, scope: str) -> int:
    """Rows of the rate-limit counters table in ``scope`` (tests write rows there as a probe)."""
    async with database.read() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(RateLimitCounter)
            .where(RateLimitCounter.scope == scope)
        )
    return int(count or 0)
