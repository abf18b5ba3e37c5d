"""Checkouts and heartbeats written together (licenses/lease_batches.py): one batch answers each
request as it would have been answered alone, in order; a batch decided on a lease that changed
meanwhile runs again; a failed batch changes nothing (both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from exisone.protocol import verify_lease_token
from exisone_server.kit.time import format_expiration, utc_now
from exisone_server.licenses import lease_batches, lease_keys
from exisone_server.licenses.lease_batches import LeaseBatches
from exisone_server.licenses.lease_endpoints import _token
from exisone_server.licenses.lease_keys import LeaseKeys
from exisone_server.licenses.leases import (
    Checkout,
    Heartbeat,
    StaleRenewal,
    check_out_many,
    renew_leases,
)
from exisone_server.models import AuditEvent, CryptoKey, KeyAlgorithm, Lease, License, LicenseStatus
from exisone_server.statements import SessionStatements

from .seeding import Seed

LEASE = "/api/license/lease"


async def _leases(seed: Seed, count: int, **license_fields: Any) -> list[str]:
    """``count`` leases (TTL 120 s) of one floating license of the tenant."""
    product = await seed.product(version="2.0")
    plan = await seed.floating_plan(max_borrow_hours=24)
    license = await seed.license(
        product, plan=plan, is_corporate=True, max_seats=100, **license_fields
    )
    ids = []
    for n in range(count):
        body = {
            "activationKey": license.activation_key,
            "hardwareId": f"HW-{n}",
            "productName": product.name,
        }
        if n == count - 1:
            body["borrowHours"] = 2  # the last one is borrowed
        answer = await seed.api.post(LEASE, body)
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["leaseId"])
    return ids


async def _expiry(seed: Seed, lease_id: str) -> Any:
    async with seed.database.read_session() as session:
        return await session.scalar(select(Lease.expires_at).where(Lease.lease_id == lease_id))


async def test_one_batch_answers_each_heartbeat_as_alone(seed: Seed) -> None:
    live, ran_out, borrowed = await _leases(seed, 3)
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    async with seed.database.write() as session:
        await session.execute(
            update(Lease)
            .where(Lease.lease_id == ran_out)
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )
    borrowed_until = await _expiry(seed, borrowed)
    calls = [
        Heartbeat(seed.tenant.id, live),
        Heartbeat(other.tenant.id, live),  # another tenant's lease
        Heartbeat(seed.tenant.id, "l_no-such-lease"),
        Heartbeat(seed.tenant.id, ran_out),
        Heartbeat(seed.tenant.id, borrowed),
        Heartbeat(seed.tenant.id, live),  # twice in one batch: renewed twice
        Heartbeat(seed.tenant.id, "x" * 500),
    ]
    async with seed.database.write() as session:
        renewals = await renew_leases(SessionStatements(session), calls, LeaseKeys(seed.master_key))

    codes = [
        renewal.refusal.code if renewal.refusal is not None else "renewed" for renewal in renewals
    ]
    assert codes == [
        "renewed",
        "lease_not_found",
        "lease_not_found",
        "lease_expired",
        "renewed",
        "renewed",
        "lease_not_found",
    ]
    assert [renewal.found for renewal in renewals] == [True, False, False, True, True, True, False]
    first = renewals[0].grant
    assert first is not None and first.features == ["Pro"] and first.max_seats == 100
    assert first.seats_in_use == 2  # the live one and the borrowed one; one ran out
    assert first.lease.expires_at > utc_now() + timedelta(seconds=110)
    assert await _expiry(seed, live) == first.lease.expires_at
    borrowed_grant = renewals[4].grant
    assert borrowed_grant is not None and borrowed_grant.lease.expires_at == borrowed_until
    assert first.crypto_key.algorithm == KeyAlgorithm.ED25519  # a new tenant's lease key
    assert first.crypto_key.tenant_id == seed.tenant.id and first.crypto_key.is_current


@pytest.mark.parametrize("status", [LicenseStatus.REVOKED, LicenseStatus.SUSPENDED])
async def test_a_batch_ends_the_leases_of_a_license_that_is_no_longer_active(
    seed: Seed, status: LicenseStatus
) -> None:
    first, second, _ = await _leases(seed, 3)
    async with seed.database.read_session() as session:
        license_id = await session.scalar(select(Lease.license_id).where(Lease.lease_id == first))
    async with seed.database.write() as session:
        await session.execute(update(License).where(License.id == license_id).values(status=status))
    calls = [
        Heartbeat(seed.tenant.id, first),
        Heartbeat(seed.tenant.id, second),
        Heartbeat(seed.tenant.id, first),  # again: its lease ended just before, in this batch
    ]
    async with seed.database.write() as session:
        renewals = await renew_leases(SessionStatements(session), calls, LeaseKeys(seed.master_key))

    assert [r.refusal.status_code if r.refusal else 200 for r in renewals] == [409, 409, 404]
    async with seed.database.read_session() as session:
        ended = list(
            await session.scalars(select(Lease.ended_by).where(Lease.lease_id.in_([first, second])))
        )
    assert ended == [status.value, status.value]


async def test_concurrent_heartbeats_share_batches_and_each_gets_its_own_answer(
    seed: Seed,
) -> None:
    ids = await _leases(seed, 12)
    batcher = LeaseBatches(seed.database, seed.master_key)
    calls = [*ids[:-1], "l_unknown", *ids[:-1]]

    renewals = await asyncio.gather(*(batcher.renew(seed.tenant.id, i) for i in calls))

    assert batcher.batches < len(calls)
    assert [r.grant.lease.lease_id if r.grant else None for r in renewals] == [
        *ids[:-1],
        None,
        *ids[:-1],
    ]
    grant = renewals[0].grant
    assert grant is not None
    keys = (await seed.public_keys()).lease_keys
    token = verify_lease_token(_token(grant, seed.master_key), keys)
    assert (token.lease_id, token.expires_at) == (ids[0], grant.lease.expires_at)


async def test_a_stale_batch_is_renewed_again(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose renewal no longer holds (a lease released between the read and the write)
    is rolled back and renewed afresh: the caller gets the new answer, not an error."""
    (lease_id, _) = await _leases(seed, 2)
    attempts = 0

    async def released_meanwhile(statements: Any, calls: Any, keys: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise StaleRenewal("a lease ended meanwhile")
        return await renew_leases(statements, calls, keys)

    batcher = LeaseBatches(seed.database, seed.master_key)
    await batcher.renew(seed.tenant.id, lease_id)  # keeps the key: no run for want of one
    monkeypatch.setattr(lease_batches, "renew_leases", released_meanwhile)
    renewal = await batcher.renew(seed.tenant.id, lease_id)
    assert attempts == 2 and renewal.grant is not None and renewal.refusal is None


async def test_a_failed_batch_fails_each_heartbeat_and_renews_nothing(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _leases(seed, 3)
    before = [await _expiry(seed, i) for i in ids]

    async def fails_after_renewing(statements: Any, calls: Any, keys: Any) -> Any:
        await renew_leases(statements, calls, keys)
        raise OSError("disk gone")

    monkeypatch.setattr(lease_batches, "renew_leases", fails_after_renewing)
    batcher = LeaseBatches(seed.database, seed.master_key)
    answers = await asyncio.gather(
        *(batcher.renew(seed.tenant.id, i) for i in ids), return_exceptions=True
    )
    assert [type(answer) for answer in answers] == [OSError] * 3
    assert [await _expiry(seed, i) for i in ids] == before


async def test_one_batch_of_checkouts_decides_in_order(seed: Seed) -> None:
    """Seats taken earlier in the batch count for the later checkouts; the same device twice
    renews the lease the batch just made; refusals keep their own answers."""
    product = await seed.product(version="2.0")
    plan = await seed.floating_plan()
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=2)
    fixed = await seed.license(product)  # not floating
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    theirs = await other.license(await other.product(version="2.0"), plan=None)
    key, name = license.activation_key, product.name

    def checkout(hardware_id: str, activation_key: str = key, **extra: Any) -> Checkout:
        return Checkout(seed.tenant.id, activation_key, hardware_id, name, **extra)

    checkouts = [
        checkout("HW-A"),
        checkout("HW-B", ttl_seconds=60),
        checkout("HW-C"),  # both seats taken by the two above
        checkout("HW-A", ttl_seconds=300),  # the same device: its new lease renewed
        checkout("HW-D", ttl_seconds=5),  # below the plan's TTL bounds
        checkout("HW-E", activation_key="NOPE-0000-0000-0000"),
        checkout("HW-F", activation_key=theirs.activation_key),  # another tenant's key
        checkout("HW-G", activation_key=fixed.activation_key),
        checkout("HW-H", activation_key=key.lower()),  # keys are case-insensitive: full
    ]
    async with seed.database.write() as session:
        outcomes = await check_out_many(
            SessionStatements(session), checkouts, LeaseKeys(seed.master_key)
        )

    codes = [o.refusal.code if o.refusal else "granted" for o in outcomes]
    assert codes == [
        "granted",
        "granted",
        "no_free_seat",
        "granted",
        "invalid_request",
        "license_not_found",
        "license_not_found",
        "not_floating",
        "no_free_seat",
    ]
    assert [o.found for o in outcomes] == [True] * 5 + [False, False] + [True] * 2
    first, second, full, again = (o.grant for o in outcomes[:4])
    assert first is not None and second is not None and again is not None and full is None
    assert (first.seats_in_use, second.seats_in_use, again.seats_in_use) == (1, 2, 2)
    assert again.lease.lease_id == first.lease.lease_id and again.lease.ttl_seconds == 300
    assert first.lease.ttl_seconds == 120  # each answer says what its own checkout did
    refusal = outcomes[2].refusal
    assert refusal is not None
    assert refusal.extra["seatsInUse"] == 2 and refusal.extra["maxSeats"] == 2
    assert refusal.extra["nextFreeAt"] == format_expiration(second.lease.expires_at)
    async with seed.database.read_session() as session:
        stored = list(
            await session.scalars(
                select(Lease.hardware_id).where(Lease.license_id == license.id).order_by(Lease.id)
            )
        )
    assert stored == ["HW-A", "HW-B"]


async def test_concurrent_checkouts_share_batches_and_never_pass_the_seats(seed: Seed) -> None:
    product = await seed.product(version="2.0")
    plan = await seed.plan(is_floating=True, lease_ttl_min_seconds=30)
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=5)
    batches = LeaseBatches(seed.database, seed.master_key)
    checkouts = [
        Checkout(seed.tenant.id, license.activation_key, f"HW-{n}", product.name) for n in range(20)
    ]

    outcomes = await asyncio.gather(*(batches.check_out(c) for c in checkouts))

    assert batches.batches < len(checkouts)
    granted = [o.grant for o in outcomes if o.grant is not None]
    assert len(granted) == 5
    assert sorted(g.seats_in_use for g in granted) == [1, 2, 3, 4, 5]
    assert {o.refusal.code for o in outcomes if o.refusal} == {"no_free_seat"}


async def test_a_key_made_for_a_tenant_s_first_lease_is_audited_as_its_asker(seed: Seed) -> None:
    """The batch runs outside the request; the signing key a tenant's first checkout makes is
    still recorded as made by the request's token and address."""
    async with seed.database.write() as session:
        await session.execute(delete(CryptoKey).where(CryptoKey.tenant_id == seed.tenant.id))
    product = await seed.product(version="2.0")
    plan = await seed.plan(is_floating=True, lease_ttl_min_seconds=30)
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=5)
    body = {
        "activationKey": license.activation_key,
        "hardwareId": "HW",
        "productName": product.name,
    }

    answer = await seed.api.post(LEASE, body)

    assert answer.status_code == 200, answer.text
    async with seed.database.read_session() as session:
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.tenant_id == seed.tenant.id,
                    AuditEvent.action == "crypto_key.create",
                )
                .order_by(AuditEvent.seq)
            )
        )
    assert events, "no key was made"
    made = events[-1]  # an earlier one (seeding's) was deleted above
    assert (made.actor_type, made.ip_address) == ("token", "127.0.0.1")
    assert made.actor in seed.api.token


async def test_a_full_key_cache_never_drops_a_key_from_under_a_batch(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for one key, a batch of two tenants' checkouts (one key kept, one read) signs
    each with its own tenant's key; what is kept afterwards is bounded."""
    monkeypatch.setattr(lease_keys, "MAX_KEPT_KEYS", 1)
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    checkouts = []
    for tenant in (seed, other):
        product = await tenant.product(version="2.0")
        plan = await tenant.floating_plan()
        license = await tenant.license(product, plan=plan, is_corporate=True, max_seats=5)
        checkouts.append(Checkout(tenant.tenant.id, license.activation_key, "HW-1", product.name))
    keys = LeaseKeys(seed.master_key)
    async with seed.database.write() as session:
        (kept,) = await check_out_many(
            SessionStatements(session), checkouts[:1], keys
        )  # seed's key now kept
    async with seed.database.write() as session:
        outcomes = await check_out_many(SessionStatements(session), checkouts[::-1], keys)

    signers = [o.grant.crypto_key.tenant_id for o in outcomes if o.grant is not None]
    assert signers == [other.tenant.id, seed.tenant.id]
    assert kept.grant is not None and outcomes[1].grant is not None
    assert outcomes[1].grant.crypto_key.fingerprint == kept.grant.crypto_key.fingerprint
    assert len(keys._kept) == 1
