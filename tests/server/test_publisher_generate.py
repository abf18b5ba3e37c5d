"""POST /api/activationkey/generate: validity rules, plans, seats, errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from exisone.protocol import parse_datetime
from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now

from .helpers import assert_error
from .publisher_helpers import activate, call, generate, other_tenant, validate_status
from .seeding import Seed

KEY = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
PERPETUAL = "2049-12-31T23:59:59Z"


def _days_from_now(answer: dict[str, object]) -> float:
    expires: datetime = parse_datetime(str(answer["expirationDate"]))
    return (expires - utc_now()) / timedelta(days=1)


async def test_answer_has_the_wire_fields(seed: Seed) -> None:
    await seed.product()

    answer = await generate(seed)

    assert KEY.match(answer["activationKey"])
    assert answer["isCorporate"] is False
    assert answer["isOffline"] is False
    assert "maxSeats" not in answer
    assert answer["expirationDate"] == PERPETUAL  # product default 0 days = perpetual
    assert await validate_status(seed, answer["activationKey"]) == "invalid"  # not activated
    assert (await activate(seed, answer["activationKey"])).status_code == 200
    assert await validate_status(seed, answer["activationKey"]) == "licensed"


async def test_validity_days(seed: Seed) -> None:
    await seed.product(default_license_days=365)

    thirty = await generate(seed, validityDays=30)
    zero = await generate(seed, validityDays=0)
    default = await generate(seed)

    assert 29.9 < _days_from_now(thirty) <= 30
    assert zero["expirationDate"] == PERPETUAL
    assert 364.9 < _days_from_now(default) <= 365


async def test_plan_wins_over_validity_days_and_gives_features_and_seats(seed: Seed) -> None:
    await seed.product()
    plan = (
        await seed.api.post(
            "/api/plan",
            {
                "name": "Team",
                "durationDays": 90,
                "features": ["Pro", "Export"],
                "isCorporate": True,
                "maxSeats": 2,
            },
        )
    ).json()

    answer = await generate(seed, planId=plan["id"], validityDays=5)

    assert 89.9 < _days_from_now(answer) <= 90
    assert answer["isCorporate"] is True
    assert answer["maxSeats"] == 2
    assert answer["features"] == ["Export", "Pro"]
    key = answer["activationKey"]
    assert (await activate(seed, key, "A")).status_code == 200
    assert (await activate(seed, key, "B")).status_code == 200
    assert_error(await activate(seed, key, "C"), 409, "seat_limit_reached")
    usage = await seed.api.get(f"/api/license/{key}/usage")
    assert usage.json()["maxSeats"] == 2


async def test_perpetual_plan(seed: Seed) -> None:
    await seed.product(default_license_days=10)
    plan = await seed.plan("Forever", duration_days=0)
    assert (await generate(seed, planId=plan.id))["expirationDate"] == PERPETUAL


async def test_product_default_plan_is_used_when_nothing_is_sent(seed: Seed) -> None:
    plan = (
        await seed.api.post("/api/plan", {"name": "Std", "durationDays": 7, "features": ["Std"]})
    ).json()
    await seed.product(default_license_days=365, default_plan_id=plan["id"])

    by_default = await generate(seed)
    by_days = await generate(seed, validityDays=1)

    assert 6.9 < _days_from_now(by_default) <= 7
    assert by_default["features"] == ["Std"]
    assert by_default["planId"] == plan["id"]
    assert 0.9 < _days_from_now(by_days) <= 1  # validityDays beats the default plan
    assert by_days["features"] == []


async def test_unknown_product_and_plan_are_404(seed: Seed) -> None:
    await seed.product()
    assert_error(
        await seed.api.post(
            "/api/activationkey/generate", {"productName": "Nope", "email": "a@b.co"}
        ),
        404,
        "product_not_found",
    )
    assert_error(
        await seed.api.post(
            "/api/activationkey/generate",
            {"productName": "MyProduct", "email": "a@b.co", "planId": 424242},
        ),
        404,
        "plan_not_found",
    )


async def test_plan_of_another_tenant_is_404(seed: Seed) -> None:
    await seed.product()
    b = await other_tenant(seed)
    foreign = await b.plan("Theirs", duration_days=5)
    response = await seed.api.post(
        "/api/activationkey/generate",
        {"productName": "MyProduct", "email": "a@b.co", "planId": foreign.id},
    )
    assert_error(response, 404, "plan_not_found")
    # and tenant B cannot license tenant A's product by name
    assert_error(
        await b.api.post(
            "/api/activationkey/generate", {"productName": "MyProduct", "email": "a@b.co"}
        ),
        404,
        "product_not_found",
    )


async def test_inactive_or_mismatched_plan_and_inactive_product_are_409(seed: Seed) -> None:
    await seed.product()
    other = await seed.product("Other")
    inactive = (await seed.api.post("/api/plan", {"name": "Old", "isActive": False})).json()
    bound = (await seed.api.post("/api/plan", {"name": "Bound", "productId": other.id})).json()
    off = await seed.product("Off", is_active=False)

    assert_error(
        await seed.api.post(
            "/api/activationkey/generate",
            {"productName": "MyProduct", "email": "a@b.co", "planId": inactive["id"]},
        ),
        409,
        "plan_inactive",
    )
    assert_error(
        await seed.api.post(
            "/api/activationkey/generate",
            {"productName": "MyProduct", "email": "a@b.co", "planId": bound["id"]},
        ),
        409,
        "plan_product_mismatch",
    )
    assert_error(
        await seed.api.post(
            "/api/activationkey/generate", {"productName": off.name, "email": "a@b.co"}
        ),
        409,
        "product_inactive",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@b.co"},
        {"productName": "MyProduct"},
        {"productName": "MyProduct", "email": ""},
        {"productName": "MyProduct", "email": "not-an-address"},
        {"productName": "MyProduct", "email": "a@b.co", "validityDays": -1},
        {"productName": "MyProduct", "email": "a@b.co", "validityDays": 10**7},
        {"productName": "MyProduct", "email": "a@b.co", "planId": "gold"},
        {"productName": " ", "email": "a@b.co"},
    ],
)
async def test_bad_input_is_400(seed: Seed, body: dict[str, object]) -> None:
    await seed.product()
    assert_error(await seed.api.post("/api/activationkey/generate", body), 400, "invalid_request")


async def test_history_and_listing_show_the_new_license(seed: Seed) -> None:
    await seed.product()
    answer = await generate(seed)

    history = await seed.api.get(f"/api/license/{answer['activationKey']}/history")
    listing = await seed.api.get("/api/license/")

    assert [event["action"] for event in history.json()] == ["created"]
    assert [item["activationKey"] for item in listing.json()] == [answer["activationKey"]]


async def test_permissions(seed: Seed) -> None:
    await seed.product()
    body = {"productName": "MyProduct", "email": "a@b.co"}
    generator = await seed.token(Permission.GENERATE)
    verifier = await seed.token(Permission.VERIFY, Permission.EMAIL)
    admin = await seed.token(Permission.ADMIN)

    assert (
        await call(seed, "POST", "/api/activationkey/generate", body, token=generator)
    ).status_code == 200
    assert (
        await call(seed, "POST", "/api/activationkey/generate", body, token=admin)
    ).status_code == 200
    assert_error(
        await call(seed, "POST", "/api/activationkey/generate", body, token=verifier),
        403,
        "permission_denied",
    )
    assert_error(
        await seed.client.post("/api/activationkey/generate", json=body), 401, "missing_token"
    )
