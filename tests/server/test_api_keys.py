"""API-key licensing: consume (all or nothing, per-minute rate), usage, top-ups, the quota
webhooks, bad input, and the batching of consumes within a process (both databases)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from exisone_server.api_keys.batcher import ConsumeBatcher
from exisone_server.api_keys.consume import ConsumeCall, StaleDecision, consume, consume_many
from exisone_server.api_keys.service import add_calls, purchase_grant
from exisone_server.auth import Permission
from exisone_server.db import Database
from exisone_server.models import (
    ApiQuota,
    ApiUsageDay,
    License,
    LicenseStatus,
    Product,
    WebhookEvent,
)

from .helpers import assert_error, subscribe
from .seeding import Api, Seed

QUOTA_EVENTS = ("license.quota.warning", "license.quota.exhausted")


async def _api_product(seed: Seed, name: str = "Api", **fields: Any) -> Product:
    fields.setdefault("is_api_product", True)
    fields.setdefault("default_api_calls", 100)
    return await seed.product(name, **fields)


async def _consume(api: Api, key: str, amount: Any = 1) -> dict[str, Any]:
    response = await api.post("/api/license/consume", {"activationKey": key, "amount": amount})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _quota_row(database: Database, license_id: int) -> ApiQuota | None:
    async with database.read_session() as session:
        return await session.scalar(select(ApiQuota).where(ApiQuota.license_id == license_id))


def _at_least_seconds_left_in_minute(seconds: float) -> None:
    """Start a rate-limit test early in a minute, so its window cannot end half-way."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


async def test_a_new_key_gets_the_product_grant_and_spends_it_all_or_nothing(seed: Seed) -> None:
    product = await _api_product(seed, default_api_calls=10)
    license = await seed.license(product)

    first = await _consume(seed.api, license.activation_key, 4)
    assert first == {
        "allowed": True,
        "remaining": 6,
        "limit": 10,
        "used": 4,
        "resetAt": None,
        "retryAfter": None,
    }
    too_many = await _consume(seed.api, license.activation_key.lower(), 7)
    assert too_many["allowed"] is False and too_many["reason"] == "quota_exceeded"
    assert (too_many["used"], too_many["remaining"]) == (4, 6)  # nothing was spent
    assert (await _consume(seed.api, license.activation_key, 6))["remaining"] == 0
    last = await _consume(seed.api, license.activation_key)
    assert (last["allowed"], last["reason"], last["used"]) == (False, "quota_exceeded", 10)

    row = await _quota_row(seed.database, license.id)
    assert row is not None and (row.calls_limit, row.calls_used) == (10, 10)


async def test_the_plan_grant_wins_over_the_product_default(seed: Seed) -> None:
    product = await _api_product(seed, default_api_calls=5, api_rate_limit_per_minute=1000)
    plan = await seed.plan("Api Pro")
    async with seed.database.write() as session:
        stored = await session.get(type(plan), plan.id)
        assert stored is not None
        stored.api_calls, stored.api_rate_limit_per_minute = 50_000, 20
    license = await seed.license(product, plan=plan)

    answer = await _consume(seed.api, license.activation_key)
    assert (answer["limit"], answer["rateLimitPerMinute"], answer["rateRemaining"]) == (
        50_000,
        20,
        19,
    )
    assert answer["resetAt"].endswith(":00Z")


async def test_the_rate_limit_refuses_within_a_minute_with_retry_after(seed: Seed) -> None:
    product = await _api_product(seed, api_rate_limit_per_minute=3)
    license = await seed.license(product)
    _at_least_seconds_left_in_minute(10)

    assert (await _consume(seed.api, license.activation_key, 2))["rateRemaining"] == 1
    refused = await _consume(seed.api, license.activation_key, 2)
    assert refused["allowed"] is False and refused["reason"] == "rate_limit_exceeded"
    assert 1 <= refused["retryAfter"] <= 60
    reset = datetime.fromisoformat(refused["resetAt"].replace("Z", "+00:00"))
    assert reset.second == 0 and reset > datetime.now(timezone.utc)
    assert (await _consume(seed.api, license.activation_key, 1))["allowed"] is True
    never = await _consume(seed.api, license.activation_key, 4)  # more than a minute allows
    assert never["reason"] == "rate_limit_exceeded" and never["retryAfter"] is None


async def test_the_window_starts_afresh_each_minute(seed: Seed) -> None:
    product = await _api_product(seed, api_rate_limit_per_minute=2)
    license = await seed.license(product)
    minute = datetime(2030, 1, 1, 12, 0, 10, tzinfo=timezone.utc)
    async with seed.database.write() as session:
        spent = [
            await consume(session, seed.tenant.id, license.activation_key, 1, minute)
            for _ in range(3)
        ]
        later = await consume(
            session, seed.tenant.id, license.activation_key, 2, minute + timedelta(seconds=50)
        )
        after = await consume(
            session, seed.tenant.id, license.activation_key, 2, minute + timedelta(seconds=51)
        )
    assert [outcome.allowed for outcome in spent] == [True, True, False]
    assert later.allowed and later.used == 4 and later.window_calls == 2
    assert not after.allowed and after.reason == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": LicenseStatus.REVOKED}, "license_revoked"),
        ({"status": LicenseStatus.SUSPENDED}, "license_suspended"),
        ({"expires_at": datetime(2001, 1, 1, tzinfo=timezone.utc)}, "license_expired"),
    ],
)
async def test_a_key_that_is_not_active_spends_nothing(
    seed: Seed, change: dict[str, Any], reason: str
) -> None:
    license = await seed.license(await _api_product(seed))
    await seed.update_license(license, **change)
    answer = await _consume(seed.api, license.activation_key)
    assert (answer["allowed"], answer["reason"], answer["used"]) == (False, reason, 0)


async def test_a_key_of_an_ordinary_product_or_an_inactive_one_is_refused(seed: Seed) -> None:
    ordinary = await seed.license(await seed.product("Desktop"))
    answer = await _consume(seed.api, ordinary.activation_key)
    assert (answer["allowed"], answer["reason"]) == (False, "not_api_license")
    assert await _quota_row(seed.database, ordinary.id) is None  # no row for such keys

    inactive = await seed.license(await _api_product(seed, "Off", is_active=False))
    assert (await _consume(seed.api, inactive.activation_key))["reason"] == "product_inactive"


@pytest.mark.parametrize(
    "body",
    [
        {"activationKey": "K", "amount": 0},
        {"activationKey": "K", "amount": -5},
        {"activationKey": "K", "amount": 1_000_000_001},
        {"activationKey": "K", "amount": 10**30},
        {"activationKey": "K", "amount": 1.5},
        {"activationKey": "   "},
        {"amount": 1},
        {"activationKey": "K\u0000"},
    ],
)
async def test_bad_consumes_are_400(seed: Seed, body: dict[str, Any]) -> None:
    response = await seed.api.post("/api/license/consume", body)
    assert_error(response, 400, "invalid_request")


async def test_unknown_and_foreign_keys_are_404(seed: Seed, database: Database) -> None:
    other = await Seed.create(database, seed.master_key, seed.client)
    foreign = await other.license(await _api_product(other))
    for key in ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", foreign.activation_key):
        response = await seed.api.post("/api/license/consume", {"activationKey": key})
        assert_error(response, 404, "license_not_found")
    assert (await _quota_row(database, foreign.id)) is None
    lone_surrogate = await seed.api.client.post(
        "/api/license/consume",
        content=json.dumps({"activationKey": "\ud800-KEY"}),  # JSON's \ud800 escape
        headers={**seed.api.headers, "Content-Type": "application/json"},
    )
    assert_error(lone_surrogate, 400, "invalid_request")


async def test_consume_needs_a_verify_token(seed: Seed) -> None:
    license = await seed.license(await _api_product(seed))
    generate_only = seed.api_with(await seed.token(Permission.GENERATE))
    response = await generate_only.post(
        "/api/license/consume", {"activationKey": license.activation_key}
    )
    assert_error(response, 403, "permission_denied")
    verify = seed.api_with(await seed.token(Permission.VERIFY))
    assert (await _consume(verify, license.activation_key))["allowed"] is True


async def test_usage_lists_the_calls_per_day(seed: Seed) -> None:
    license = await seed.license(await _api_product(seed, api_rate_limit_per_minute=1000))
    for amount in (3, 4):
        await _consume(seed.api, license.activation_key, amount)
    async with seed.database.write() as session:  # calls of an earlier day
        session.add(
            ApiUsageDay(
                license_id=license.id,
                day=datetime.now(timezone.utc).date() - timedelta(days=2),
                calls=11,
            )
        )

    response = await seed.api.get(f"/api/license/{license.activation_key}/quota?days=3")
    assert response.status_code == 200, response.text
    body = response.json()
    today = datetime.now(timezone.utc).date()
    assert body["usage"] == [
        {"date": (today - timedelta(days=2)).isoformat(), "calls": 11},
        {"date": (today - timedelta(days=1)).isoformat(), "calls": 0},
        {"date": today.isoformat(), "calls": 7},
    ]
    assert (body["limit"], body["used"], body["remaining"], body["isApiLicense"]) == (
        100,
        7,
        93,
        True,
    )
    assert body["rateLimitPerMinute"] == 1000 and body["callsThisMinute"] in (0, 3, 7)
    unused = await seed.license(await _api_product(seed, "Fresh", default_api_calls=9))
    fresh = (await seed.api.get(f"/api/license/{unused.activation_key}/quota")).json()
    assert (fresh["limit"], fresh["used"], len(fresh["usage"])) == (9, 0, 30)
    assert_error(await seed.api.get("/api/license/NOPE-NOPE/quota"), 404, "license_not_found")
    assert_error(
        await seed.api.get(f"/api/license/{license.activation_key}/quota?days=0"),
        400,
        "invalid_request",
    )


async def test_a_top_up_adds_calls_and_sets_the_rate(seed: Seed) -> None:
    license = await seed.license(await _api_product(seed, default_api_calls=2))
    key = license.activation_key
    await _consume(seed.api, key, 2)
    assert (await _consume(seed.api, key))["reason"] == "quota_exceeded"

    response = await seed.api.post(
        f"/api/license/{key}/topup", {"calls": 5, "rateLimitPerMinute": 60}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["limit"], response.json()["rateLimitPerMinute"]) == (7, 60)
    assert (await _consume(seed.api, key, 5))["remaining"] == 0
    removed = await seed.api.post(f"/api/license/{key}/topup", {"rateLimitPerMinute": None})
    assert "rateLimitPerMinute" not in removed.json() and removed.json()["limit"] == 7

    verify = seed.api_with(await seed.token(Permission.VERIFY))
    assert_error(
        await verify.post(f"/api/license/{key}/topup", {"calls": 1}), 403, "permission_denied"
    )
    assert_error(
        await seed.api.post(f"/api/license/{key}/topup", {"calls": -1}), 400, "invalid_request"
    )
    assert_error(
        await seed.api.post(f"/api/license/{key}/topup", {"calls": 10**15}),
        400,
        "invalid_request",
    )
    ordinary = await seed.license(await seed.product("Desktop"))
    assert_error(
        await seed.api.post(f"/api/license/{ordinary.activation_key}/topup", {"calls": 1}),
        409,
        "not_api_license",
    )


async def _subscribe(seed: Seed) -> None:
    await subscribe(seed.database, seed.tenant.id, *QUOTA_EVENTS)


async def _quota_events(database: Database, tenant_id: int) -> list[dict[str, Any]]:
    async with database.read() as connection:
        bodies = await connection.scalars(
            select(WebhookEvent.body)
            .where(WebhookEvent.tenant_id == tenant_id)
            .order_by(WebhookEvent.id)
        )
        return [json.loads(body) for body in bodies]


async def test_the_quota_webhooks_fire_once_per_crossing(seed: Seed) -> None:
    await _subscribe(seed)
    license = await seed.license(await _api_product(seed, default_api_calls=10))
    key = license.activation_key
    for amount in (7, 1, 1, 1):  # 70 %, 80 % (warning), 90 %, 100 % (exhausted)
        await _consume(seed.api, key, amount)
    await _consume(seed.api, key)  # refused: no event
    await seed.api.post(f"/api/license/{key}/topup", {"calls": 10})  # 50 % again
    await _consume(seed.api, key, 6)  # 80 % of 20 crossed again

    events = await _quota_events(seed.database, seed.tenant.id)
    assert [(e["type"], e["data"]["callsUsed"], e["data"]["callsLimit"]) for e in events] == [
        ("license.quota.warning", 8, 10),
        ("license.quota.exhausted", 10, 10),
        ("license.quota.warning", 16, 20),
    ]
    data = events[1]["data"]
    assert data["activationKey"] == key and data["productName"] == "Api"
    assert (data["thresholdPercent"], data["callsRemaining"]) == (100, 0)


async def test_one_consume_can_cross_both_thresholds(seed: Seed) -> None:
    await _subscribe(seed)
    license = await seed.license(await _api_product(seed, default_api_calls=10))
    await _consume(seed.api, license.activation_key, 10)
    events = await _quota_events(seed.database, seed.tenant.id)
    assert [e["data"]["thresholdPercent"] for e in events] == [80, 100]


async def test_concurrent_consumes_in_one_process_share_transactions(seed: Seed) -> None:
    license = await seed.license(await _api_product(seed, default_api_calls=150))
    other = await seed.license(await _api_product(seed, "Other", default_api_calls=1000))
    batcher = ConsumeBatcher(seed.database)
    keys = [license.activation_key] * 200 + [other.activation_key] * 50

    outcomes = await asyncio.gather(*(batcher.consume(seed.tenant.id, k, 1) for k in keys))

    assert sum(o.allowed for o in outcomes[:200]) == 150
    assert {o.reason for o in outcomes[:200] if not o.allowed} == {"quota_exceeded"}
    assert all(o.allowed for o in outcomes[200:])
    assert batcher.batched == 250 and batcher.batches < 250
    async with seed.database.read() as connection:
        used = await connection.scalar(
            select(func.sum(ApiUsageDay.calls)).where(ApiUsageDay.license_id == license.id)
        )
    assert used == 150


async def test_a_failed_batch_fails_its_consumes_and_spends_nothing(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    license = await seed.license(await _api_product(seed, default_api_calls=5))
    key = license.activation_key
    batcher = ConsumeBatcher(seed.database)
    await batcher.consume(seed.tenant.id, key, 1)  # the row exists now: used 1

    async def fails_after_spending(*args: Any) -> Any:
        await consume_many(*args)  # spends, in the batch's transaction...
        raise OSError("disk gone")  # ... which then rolls back

    monkeypatch.setattr("exisone_server.api_keys.batcher.consume_many", fails_after_spending)
    answers = await asyncio.gather(
        *(batcher.consume(seed.tenant.id, key, 1) for _ in range(3)), return_exceptions=True
    )
    assert [type(answer) for answer in answers] == [OSError] * 3
    row = await _quota_row(seed.database, license.id)
    assert row is not None and row.calls_used == 1
    monkeypatch.undo()
    assert (await batcher.consume(seed.tenant.id, key, 1)).used == 2


async def test_a_deadlocked_batch_makes_its_first_uses_rows_apart_then_runs_again(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL breaks a deadlock between two batches that made first uses' quota rows
    while holding other rows; the batch that lost makes the rows in a transaction of its own,
    then runs again and finds every row in place."""
    fresh = await seed.license(await _api_product(seed, "Fresh", default_api_calls=10))
    batcher = ConsumeBatcher(seed.database, direct=False)
    seen: list[bool] = []  # per run of the batch: whether the first use had its row already

    async def deadlocks_once(session: Any, calls: Any, now: Any) -> Any:
        seen.append(await _quota_row(seed.database, fresh.id) is not None)
        outcomes = await consume_many(session, calls, now)  # makes the row, in the batch
        if len(seen) == 1:
            raise DBAPIError("UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock"))
        return outcomes

    monkeypatch.setattr("exisone_server.api_keys.batcher.consume_many", deadlocks_once)
    answer = await batcher.consume(seed.tenant.id, fresh.activation_key, 2)

    assert seen == [False, True]  # rolled back with the batch, then made apart
    assert (answer.allowed, answer.used) == (True, 2)
    row = await _quota_row(seed.database, fresh.id)
    assert row is not None and row.calls_used == 2


def test_use_quantity_as_api_calls_gives_one_key_with_the_quantity() -> None:
    api = Product(tenant_id=1, name="A", is_api_product=True, use_quantity_as_api_calls=True)
    plain = Product(tenant_id=1, name="B", is_api_product=True, use_quantity_as_api_calls=False)
    assert (purchase_grant(api, 10_000).keys, purchase_grant(api, 10_000).calls_per_key) == (
        1,
        10_000,
    )
    assert (purchase_grant(plain, 3).keys, purchase_grant(plain, 3).calls_per_key) == (3, None)


async def test_products_and_plans_carry_the_api_settings(seed: Seed) -> None:
    created = await seed.api.post(
        "/api/product",
        {
            "name": "Geo API",
            "isApiProduct": True,
            "defaultApiCalls": 10_000,
            "apiRateLimitPerMinute": 100,
            "useQuantityAsApiCalls": True,
        },
    )
    assert created.status_code in (200, 201), created.text
    body = created.json()
    assert (
        body["isApiProduct"],
        body["defaultApiCalls"],
        body["apiRateLimitPerMinute"],
        body["useQuantityAsApiCalls"],
    ) == (True, 10_000, 100, True)
    refused = await seed.api.client.patch(
        f"/api/product/{body['id']}", json={"apiRateLimitPerMinute": 0}, headers=seed.api.headers
    )
    assert_error(refused, 400, "invalid_request")
    plan = await seed.api.post(
        "/api/plan", {"name": "Geo 1M", "apiCalls": 1_000_000, "apiRateLimitPerMinute": 600}
    )
    assert plan.status_code in (200, 201), plan.text
    assert (plan.json()["apiCalls"], plan.json()["apiRateLimitPerMinute"]) == (1_000_000, 600)


async def test_deleting_a_key_deletes_its_quota(seed: Seed) -> None:
    license = await seed.license(await _api_product(seed))
    await _consume(seed.api, license.activation_key)
    async with seed.database.write() as session:
        stored = await session.get(License, license.id)
        assert stored is not None
        await session.delete(stored)
    assert await _quota_row(seed.database, license.id) is None


async def test_the_write_refuses_to_pass_a_grant_whatever_the_decision(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UPDATE's own condition keeps 'never more than granted' (here the rule is broken
    on purpose): the batch fails and nothing is spent."""
    license = await seed.license(await _api_product(seed, default_api_calls=3))
    monkeypatch.setattr("exisone_server.licenses.rules.consume_refusal", lambda *_: None)
    with pytest.raises(StaleDecision):
        async with seed.database.write() as session:
            await consume(session, seed.tenant.id, license.activation_key, 5)
    row = await _quota_row(seed.database, license.id)
    assert row is None or row.calls_used == 0


async def test_one_batch_decides_in_order_and_keeps_tenants_apart(
    seed: Seed, database: Database
) -> None:
    other = await Seed.create(database, seed.master_key, seed.client)
    mine = await seed.license(await _api_product(seed, default_api_calls=5))
    theirs = await other.license(await _api_product(other, default_api_calls=5))
    calls = [
        ConsumeCall(seed.tenant.id, mine.activation_key, 2),
        ConsumeCall(seed.tenant.id, theirs.activation_key, 1),  # not this tenant's key
        ConsumeCall(other.tenant.id, theirs.activation_key, 1),
        ConsumeCall(seed.tenant.id, mine.activation_key, 4),  # 2 + 4 > 5
        ConsumeCall(seed.tenant.id, mine.activation_key, 3),
    ]
    async with database.write() as session:
        outcomes = await consume_many(session, calls)
    assert [(o.found, o.reason, o.used) for o in outcomes] == [
        (True, None, 2),
        (False, None, 0),
        (True, None, 1),
        (True, "quota_exceeded", 2),
        (True, None, 5),
    ]


async def test_a_stale_batch_is_decided_again(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose write no longer holds (a license revoked between its read and its write)
    is rolled back and decided afresh: the caller gets the new decision, not an error."""
    license = await seed.license(await _api_product(seed, default_api_calls=5))
    await seed.update_license(license, status=LicenseStatus.REVOKED)
    attempts = 0

    async def revoked_meanwhile(session: Any, calls: Any, now: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:  # as if decided before the revocation, written after it
            raise StaleDecision("the license changed")
        return await consume_many(session, calls, now)

    monkeypatch.setattr("exisone_server.api_keys.batcher.consume_many", revoked_meanwhile)
    outcome = await ConsumeBatcher(seed.database).consume(seed.tenant.id, license.activation_key, 1)
    assert attempts == 2 and outcome.reason == "license_revoked"


async def test_a_key_sold_with_use_quantity_as_api_calls_is_granted_the_quantity(
    seed: Seed,
) -> None:
    """What the payment fulfilment does: one key, its grant set to the purchased quantity."""
    product = await _api_product(seed, "Sold", default_api_calls=50, use_quantity_as_api_calls=True)
    grant = purchase_grant(product, 10_000)
    assert (grant.keys, grant.calls_per_key) == (1, 10_000)
    license = await seed.license(product)
    async with seed.database.write() as session:
        quota = await add_calls(
            session, seed.tenant.id, license.activation_key, 10_000, set_calls=True
        )
    assert (quota.facts.calls_limit, quota.facts.calls_used) == (10_000, 0)
    answer = await _consume(seed.api, license.activation_key, 10_000)
    assert (answer["allowed"], answer["remaining"]) == (True, 0)
    async with seed.database.write() as session:  # a renewal adds to what is left
        renewed = await add_calls(session, seed.tenant.id, license.activation_key, 500)
    assert renewed.facts.calls_limit == 10_500
