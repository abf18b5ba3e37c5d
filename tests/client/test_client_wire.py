"""Every online method, sync and async, against the exact wire of ExisOne's API."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
import pytest

from exisone import (
    ActivationResult,
    GeneratedActivationKey,
    SeatUsage,
    ValidationResult,
    ValidationStatus,
    __version__,
)

from .conftest import BASE_URL, TOKEN, FakeServer, reply, run

USER_AGENT = (
    f"exisone-python/{__version__} (+httpx; Python {sys.version_info[0]}.{sys.version_info[1]})"
)


@dataclass
class Case:
    id: str
    method_name: str
    args: tuple[Any, ...]
    http_method: str
    path: str
    body: dict[str, Any] | None
    answer: httpx.Response
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


EXPIRY = datetime(2026, 1, 1, 23, 59, 59, tzinfo=timezone.utc)

CASES = [
    Case(
        "activate",
        "activate",
        ("AAAA-BBBB-CCCC-DDDD", "user@example.com", "HW-1", "MyProduct"),
        "POST",
        "/api/license/activate",
        {
            "activationKey": "AAAA-BBBB-CCCC-DDDD",
            "email": "user@example.com",
            "hardwareId": "HW-1",
            "productName": "MyProduct",
            "version": "1.2.3",
        },
        reply(200, {"serverVersion": "2.0.0", "minimumRequiredVersion": "1.0.0", "new": 1}),
        ActivationResult(
            success=True,
            server_version="2.0.0",
            minimum_required_version="1.0.0",
            license_data='{"serverVersion":"2.0.0","minimumRequiredVersion":"1.0.0","new":1}',
            status_code=200,
        ),
        {"version": "1.2.3"},
    ),
    Case(
        "activate-without-version",
        "activate",
        ("K", "e@x.org", "HW", "P"),
        "POST",
        "/api/license/activate",
        {"activationKey": "K", "email": "e@x.org", "hardwareId": "HW", "productName": "P"},
        reply(200, "not json"),
        ActivationResult(success=True, license_data="not json", status_code=200),
    ),
    Case(
        "validate",
        "validate",
        ("K", "HW"),
        "POST",
        "/api/license/validate",
        {"activationKey": "K", "hardwareId": "HW"},
        reply(
            200,
            {
                "isValid": True,
                "status": "licensed",
                "expirationDate": "2026-01-01T23:59:59Z",
                "features": ["Pro", "Export"],
                "serverVersion": "2.0",
                "minimumRequiredVersion": None,
                "somethingNew": {"x": 1},
            },
        ),
        ValidationResult(
            is_valid=True,
            status=ValidationStatus.LICENSED,
            expiration_date=EXPIRY,
            features=["Pro", "Export"],
            server_version="2.0",
        ),
    ),
    Case(
        "validate-with-product-and-version",
        "validate",
        ("K", "HW", "MyProduct", "1.0.0"),
        "POST",
        "/api/license/validate",
        {"activationKey": "K", "hardwareId": "HW", "productName": "MyProduct", "version": "1.0.0"},
        reply(
            200,
            {
                "isValid": False,
                "status": "version_outdated",
                "expirationDate": "2026-01-01T23:59:59.1234567Z",
                "features": None,
                "serverVersion": "3.0",
                "minimumRequiredVersion": "2.0",
            },
        ),
        ValidationResult(
            is_valid=False,
            status="version_outdated",
            expiration_date=EXPIRY.replace(microsecond=123456),
            features=[],
            server_version="3.0",
            minimum_required_version="2.0",
        ),
    ),
    Case(
        "validate-trial",
        "validate",
        ("", "HW", "MyProduct"),
        "POST",
        "/api/license/validate",
        {"activationKey": "", "hardwareId": "HW", "productName": "MyProduct"},
        reply(
            200,
            {
                "isValid": True,
                "status": "trial",
                "expirationDate": "2026-01-01",
                "remainingDays": 12,
                "features": [],
            },
        ),
        ValidationResult(
            is_valid=True,
            status=ValidationStatus.TRIAL,
            expiration_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
            remaining_days=12,
        ),
    ),
    Case(
        "deactivate",
        "deactivate",
        ("K", "HW", "MyProduct"),
        "POST",
        "/api/license/deactivate",
        {"licenseKey": "K", "hardwareId": "HW", "productName": "MyProduct"},
        reply(204),
        True,
    ),
    Case(
        "generate_activation_key",
        "generate_activation_key",
        ("MyProduct", "buyer@example.com"),
        "POST",
        "/api/activationkey/generate",
        {"productName": "MyProduct", "email": "buyer@example.com"},
        reply(
            200, {"activationKey": "ABCD-1234-EFGH-5678", "isCorporate": False, "isOffline": False}
        ),
        "ABCD-1234-EFGH-5678",
    ),
    Case(
        "generate_activation_key-plan-and-zero-days",
        "generate_activation_key",
        ("MyProduct", "buyer@example.com", 3, 0),
        "POST",
        "/api/activationkey/generate",
        {"productName": "MyProduct", "email": "buyer@example.com", "planId": 3, "validityDays": 0},
        reply(200, {"activationKey": "ABCD-1234-EFGH-5678"}),
        "ABCD-1234-EFGH-5678",
    ),
    Case(
        "generate_activation_key_details",
        "generate_activation_key_details",
        ("MyProduct", "buyer@example.com"),
        "POST",
        "/api/activationkey/generate",
        {"productName": "MyProduct", "email": "buyer@example.com", "validityDays": 30},
        reply(
            200,
            {
                "activationKey": "CORP-0001-AAAA-BBBB",
                "isCorporate": True,
                "maxSeats": 25,
                "isOffline": False,
            },
        ),
        GeneratedActivationKey("CORP-0001-AAAA-BBBB", is_corporate=True, max_seats=25),
        {"validity_days": 30},
    ),
    Case(
        "generate_activation_key_details-expiration-date",
        "generate_activation_key_details",
        ("MyProduct", "buyer@example.com"),
        "POST",
        "/api/activationkey/generate",
        {"productName": "MyProduct", "email": "buyer@example.com"},
        reply(
            200,
            {"activationKey": "ABCD-1234-EFGH-5678", "expirationDate": "2026-01-01T23:59:59Z"},
        ),
        GeneratedActivationKey("ABCD-1234-EFGH-5678", expiration_date=EXPIRY),
    ),
    Case(
        "get_licensed_features_csv",
        "get_licensed_features_csv",
        ("K",),
        "POST",
        "/api/license/features/csv",
        {"activationKey": "K"},
        reply(200, {"features": "Pro, Export,,"}),
        "Pro, Export,,",
    ),
    Case(
        "get_licensed_features",
        "get_licensed_features",
        ("K",),
        "POST",
        "/api/license/features/csv",
        {"activationKey": "K"},
        reply(200, {"features": "Pro, Export,,"}),
        ["Pro", "Export"],
    ),
    Case(
        "send_support_ticket",
        "send_support_ticket",
        ("MyProduct", "user@example.com", "Subject", "Body\nline 2 – ünïcode"),
        "POST",
        "/api/support/ticket",
        {
            "productName": "MyProduct",
            "email": "user@example.com",
            "subject": "Subject",
            "message": "Body\nline 2 – ünïcode",
        },
        reply(200),
        None,
    ),
    Case(
        "get_seat_usage",
        "get_seat_usage",
        ("CORP/0001 ?#",),
        "GET",
        "/api/license/CORP%2F0001%20%3F%23/usage",
        None,
        reply(200, {"currentSeats": 3, "maxSeats": 25, "hasCapacity": True, "isUnlimited": False}),
        SeatUsage(current_seats=3, max_seats=25, has_capacity=True, is_unlimited=False),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_method_sends_exact_request_and_reads_answer(
    make_client: Callable[..., Any], case: Case
) -> None:
    server = FakeServer(case.answer)
    client = make_client(server)

    result = await run(getattr(client, case.method_name)(*case.args, **case.kwargs))

    assert result == case.expected
    assert len(server.requests) == 1
    request = server.last
    assert request.method == case.http_method
    assert str(request.url) == BASE_URL + case.path
    assert request.headers["Authorization"] == f"ExisOneApi {TOKEN}"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "application/json"
    if case.body is None:
        assert request.content == b""
        assert "Content-Type" not in request.headers
    else:
        assert request.headers["Content-Type"] == "application/json"
        expected = json.dumps(case.body, separators=(",", ":"), ensure_ascii=False).encode()
        assert request.content == expected


async def test_no_token_means_no_authorization_header(make_client: Callable[..., Any]) -> None:
    server = FakeServer(reply(200, {"isValid": False}))
    client = make_client(server, access_token="")
    result = await run(client.validate("K", "HW"))
    assert "Authorization" not in server.last.headers
    assert result.status == "invalid" and result.status is ValidationStatus.INVALID


async def test_token_with_surrounding_white_space_is_trimmed(
    make_client: Callable[..., Any],
) -> None:
    server = FakeServer(reply(200, {"isValid": True}))
    client = make_client(server, access_token=f"  {TOKEN}\n")
    result = await run(client.validate("K", "HW"))
    assert server.last.headers["Authorization"] == f"ExisOneApi {TOKEN}"
    assert result.status == "licensed"


async def test_path_prefix_of_base_url_is_kept(make_client: Callable[..., Any]) -> None:
    server = FakeServer(reply(200, {"isValid": True}))
    client = make_client(server, base_url="https://h.example/licensing/v1//")
    await run(client.validate("K", "HW"))
    assert str(server.last.url) == "https://h.example/licensing/v1/api/license/validate"


async def test_unknown_status_and_odd_field_types_are_tolerated(
    make_client: Callable[..., Any],
) -> None:
    answer = reply(
        200,
        {
            "isValid": "yes",
            "status": "suspended",
            "expirationDate": "not a date",
            "features": [1, "A", None, True, " "],
            "serverVersion": 5,
            "remainingDays": "3",
        },
    )
    client = make_client(FakeServer(answer))
    result = await run(client.validate("K", "HW"))
    assert result == ValidationResult(is_valid=False, status="suspended", features=["1", "A"])
    assert not isinstance(result.status, ValidationStatus)


async def test_null_status_defaults_from_is_valid(make_client: Callable[..., Any]) -> None:
    client = make_client(
        FakeServer(reply(200, {"isValid": True, "status": None, "features": "A,B"}))
    )
    result = await run(client.validate("K", "HW"))
    assert result.status is ValidationStatus.LICENSED
    assert result.features == ["A", "B"]


async def test_seat_usage_unlimited_and_remaining(make_client: Callable[..., Any]) -> None:
    client = make_client(
        FakeServer(
            reply(
                200,
                {"currentSeats": 40, "maxSeats": None, "hasCapacity": True, "isUnlimited": True},
            ),
            reply(
                200,
                {"currentSeats": 30, "maxSeats": 25, "hasCapacity": False, "isUnlimited": False},
            ),
        )
    )
    unlimited = await run(client.get_seat_usage("K"))
    assert unlimited.max_seats is None and unlimited.remaining is None
    full = await run(client.get_seat_usage("K"))
    assert full.remaining == 0 and not full.has_capacity


async def test_features_csv_from_a_list_answer(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(reply(200, {"features": ["Pro", "Export"]})))
    assert await run(client.get_licensed_features_csv("K")) == "Pro,Export"
