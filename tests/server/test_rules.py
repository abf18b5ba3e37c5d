"""The licensing rules (licenses/rules.py): the order of their checks, and the SQL twins that
must agree with the Python rules on every case."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from exisone_server.licenses import rules
from exisone_server.licenses.rules import (
    KeyFacts,
    LicenseState,
    QuotaFacts,
    Reason,
    ReleasePolicy,
    Releaser,
)
from exisone_server.models import ApiQuota, License, LicenseStatus, Product

from .seeding import Seed

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)

_MICRO = timedelta(microseconds=1)
#: (status, expires_at, the plan's grace days; None: no plan) → the state at NOW.
STATE_CASES = [
    (LicenseStatus.ACTIVE, None, None, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW + timedelta(seconds=1), None, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW, None, LicenseState.EXPIRED),  # expires at the moment itself
    (LicenseStatus.ACTIVE, NOW - timedelta(days=3), None, LicenseState.EXPIRED),
    (LicenseStatus.SUSPENDED, None, None, LicenseState.SUSPENDED),
    (LicenseStatus.SUSPENDED, NOW - timedelta(days=3), None, LicenseState.SUSPENDED),
    (LicenseStatus.REVOKED, NOW + timedelta(days=3), None, LicenseState.REVOKED),
    (LicenseStatus.REVOKED, NOW - timedelta(days=3), None, LicenseState.REVOKED),
    # Grace: an expired license stays active for the plan's days, to the microsecond.
    (LicenseStatus.ACTIVE, NOW - timedelta(days=3), 0, LicenseState.EXPIRED),
    (LicenseStatus.ACTIVE, None, 5, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW + timedelta(seconds=1), 5, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW - timedelta(days=3), 5, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW - timedelta(days=5), 5, LicenseState.EXPIRED),
    (LicenseStatus.ACTIVE, NOW - timedelta(days=5) + _MICRO, 5, LicenseState.ACTIVE),
    (LicenseStatus.ACTIVE, NOW - timedelta(days=5) - _MICRO, 5, LicenseState.EXPIRED),
    (
        LicenseStatus.ACTIVE,
        NOW - timedelta(days=3, hours=23, microseconds=1),
        4,
        LicenseState.ACTIVE,
    ),
    (LicenseStatus.ACTIVE, NOW - timedelta(days=40), 31, LicenseState.EXPIRED),
    (LicenseStatus.SUSPENDED, NOW - timedelta(days=1), 5, LicenseState.SUSPENDED),
    (LicenseStatus.REVOKED, NOW - timedelta(days=1), 5, LicenseState.REVOKED),
]


@pytest.mark.parametrize(("status", "expires_at", "grace_days", "state"), STATE_CASES)
def test_license_state(
    status: LicenseStatus, expires_at: datetime | None, grace_days: int | None, state: LicenseState
) -> None:
    assert rules.license_state(status, expires_at, NOW, grace_days or 0) is state


def test_grace_until() -> None:
    assert rules.grace_until(None, 5) is None
    assert rules.grace_until(NOW, 0) == NOW
    assert rules.grace_until(NOW, 5) == NOW + timedelta(days=5)


async def test_the_sql_twins_agree_with_the_rule(seed: Seed) -> None:
    """license_state_sql and license_state_is select exactly what license_state says, on
    this database, for every case of the table."""
    product = await seed.product()
    ids: dict[int, LicenseState] = {}
    plans = {}
    for status, expires_at, grace_days, state in STATE_CASES:
        if grace_days is not None and grace_days not in plans:
            plans[grace_days] = await seed.plan(f"grace-{grace_days}", grace_days=grace_days)
        plan = plans[grace_days] if grace_days is not None else None
        license = await seed.license(product, plan=plan)
        await seed.update_license(license, status=status, expires_at=expires_at)
        ids[license.id] = state
    async with seed.database.read() as connection:
        computed = dict(
            (
                await connection.execute(
                    select(License.id, rules.license_state_sql(NOW)).where(License.id.in_(ids))
                )
            ).all()
        )
        filtered = {
            state: set(
                await connection.scalars(
                    select(License.id).where(
                        License.id.in_(ids), rules.license_state_is(state, NOW)
                    )
                )
            )
            for state in LicenseState
        }
    assert computed == {key: state.value for key, state in ids.items()}
    for state in LicenseState:
        assert filtered[state] == {key for key, wanted in ids.items() if wanted is state}


def _facts(**changes: object) -> KeyFacts:
    values: dict[str, object] = {
        "status": LicenseStatus.ACTIVE,
        "expires_at": None,
        "product_name": "App",
        "product_active": True,
        "enforce_version_check": True,
        "minimum_required_version": "2.0",
    }
    values.update(changes)
    return KeyFacts(**values)  # type: ignore[arg-type]


def test_validation_checks_run_in_order() -> None:
    """State first, then product, product active, device, version: each refusal hides the
    ones after it."""
    everything_wrong = _facts(status=LicenseStatus.REVOKED, product_active=False)

    def refusal(facts: KeyFacts, **request: object) -> Reason | None:
        arguments: dict[str, object] = {
            "product_name": "App",
            "version": "2.0",
            "bound": True,
            "now": NOW,
        }
        arguments.update(request)
        return rules.validation_refusal(facts, **arguments)  # type: ignore[arg-type]

    assert refusal(everything_wrong, product_name="Other", bound=False, version="1.0") == (
        Reason.LICENSE_REVOKED
    )
    assert refusal(_facts(product_active=False), product_name="Other") == (Reason.PRODUCT_MISMATCH)
    assert refusal(_facts(product_active=False), bound=False) == Reason.PRODUCT_INACTIVE
    assert refusal(_facts(), bound=False, version="1.0") == Reason.NOT_ACTIVATED
    assert refusal(_facts(), version="1.9.9") == Reason.VERSION_OUTDATED
    assert refusal(_facts(), version=None) is None  # no version sent: not refused
    assert refusal(_facts(), product_name=None) is None  # no product named: any
    assert refusal(_facts(), product_name=" App ") is None


def test_activation_checks_run_in_order() -> None:
    """Product first (activation names it), then state, product active, version."""
    expired = _facts(expires_at=NOW - timedelta(days=1), product_active=False)

    def refusal(facts: KeyFacts, product_name: str | None = "App", version: str | None = None):
        return rules.activation_refusal(facts, product_name=product_name, version=version, now=NOW)

    assert refusal(expired, product_name="Other") == Reason.PRODUCT_MISMATCH
    assert refusal(expired) == Reason.LICENSE_EXPIRED
    assert refusal(_facts(product_active=False), version="1.0") == Reason.PRODUCT_INACTIVE
    assert refusal(_facts(), version="1.0") == Reason.VERSION_OUTDATED
    assert refusal(_facts(), product_name=None) is None  # offline codes name no product
    assert refusal(_facts(), product_name="") == Reason.PRODUCT_MISMATCH  # activate must


def test_seats() -> None:
    assert rules.seat_limit(False, 10) == 1
    assert rules.seat_limit(True, 5) == 5
    assert rules.seat_limit(True, 0) is None and rules.seat_limit(True, None) is None
    assert rules.seat_refusal(False, 1, 1) == Reason.LICENSE_IN_USE
    assert rules.seat_refusal(True, 5, 5) == Reason.SEAT_LIMIT_REACHED
    assert rules.seat_refusal(True, 5, 4) is None
    assert rules.seat_refusal(True, None, 10_000) is None


def test_offline_seats_are_released_by_the_publisher_only() -> None:
    """An offline code's seat: the publisher frees it; the application never; a customer only
    when the product allows it (and lets customers release at all)."""
    default = ReleasePolicy()
    lenient = ReleasePolicy(customer_may_release_offline=True)
    for by in Releaser:
        assert rules.may_release(False, by=by, policy=default)
    assert rules.may_release(True, by=Releaser.PUBLISHER, policy=default)
    assert not rules.may_release(True, by=Releaser.APPLICATION, policy=lenient)
    assert not rules.may_release(True, by=Releaser.CUSTOMER, policy=default)
    assert rules.may_release(True, by=Releaser.CUSTOMER, policy=lenient)
    closed = ReleasePolicy(customer_may_release=False, customer_may_release_offline=True)
    assert not rules.may_release(False, by=Releaser.CUSTOMER, policy=closed)
    assert rules.may_release(False, by=Releaser.APPLICATION, policy=closed)


def _refusal(
    policy: ReleasePolicy,
    by: Releaser = Releaser.CUSTOMER,
    *,
    offline: bool = False,
    releases: tuple[datetime, ...] = (),
) -> rules.ReleaseRefusal | None:
    return rules.release_refusal(
        policy, by=by, activation_is_offline=offline, releases=releases, now=NOW
    )


def test_release_cooldown_counts_from_the_last_release() -> None:
    policy = ReleasePolicy(cooldown_hours=24)
    assert _refusal(policy) is None  # the first release never waits
    last = NOW - timedelta(hours=3)
    refusal = _refusal(policy, releases=(NOW - timedelta(days=5), last))
    assert refusal == rules.ReleaseRefusal(Reason.RELEASE_COOLDOWN, last + timedelta(hours=24))
    assert _refusal(policy, releases=(NOW - timedelta(hours=24),)) is None  # lifted exactly
    assert _refusal(ReleasePolicy(cooldown_hours=0), releases=(NOW,)) is None
    assert _refusal(policy, Releaser.APPLICATION, releases=(last,)) == refusal
    assert _refusal(policy, Releaser.PUBLISHER, releases=(last,)) is None


def test_release_limit_per_30_days_lifts_when_the_oldest_counted_leaves_the_window() -> None:
    policy = ReleasePolicy(max_releases_per_30_days=2)
    old = NOW - timedelta(days=31)  # outside the window: not counted
    one = NOW - timedelta(days=20)
    two = NOW - timedelta(days=2)
    assert _refusal(policy, releases=(old, two)) is None
    refusal = _refusal(policy, releases=(old, one, two))
    assert refusal == rules.ReleaseRefusal(Reason.RELEASE_LIMIT_REACHED, one + timedelta(days=30))
    three = NOW - timedelta(days=1)
    # Three in the window, two allowed: the second newest must leave first.
    assert _refusal(policy, releases=(one, two, three)) == rules.ReleaseRefusal(
        Reason.RELEASE_LIMIT_REACHED, two + timedelta(days=30)
    )


def test_release_checks_run_in_order_and_name_the_wait_that_lifts_last() -> None:
    everything = ReleasePolicy(
        customer_may_release=False, cooldown_hours=48, max_releases_per_30_days=1
    )
    recent = (NOW - timedelta(hours=1),)
    assert _refusal(everything, offline=True, releases=recent) == rules.ReleaseRefusal(
        Reason.RELEASE_NOT_ALLOWED
    )
    # The application is not bound by the customer switch, but by an offline seat first.
    assert _refusal(everything, Releaser.APPLICATION, offline=True, releases=recent) == (
        rules.ReleaseRefusal(Reason.OFFLINE_SEAT)
    )
    # Both waits refuse: the 30-day limit lifts later than the 48-hour cooldown.
    assert _refusal(everything, Releaser.APPLICATION, releases=recent) == rules.ReleaseRefusal(
        Reason.RELEASE_LIMIT_REACHED, recent[0] + timedelta(days=30)
    )
    long_cooldown = ReleasePolicy(cooldown_hours=24 * 40, max_releases_per_30_days=1)
    assert _refusal(long_cooldown, releases=recent) == rules.ReleaseRefusal(
        Reason.RELEASE_COOLDOWN, recent[0] + timedelta(days=40)
    )
    assert rules.release_lookback(long_cooldown) == timedelta(days=40)
    assert rules.release_lookback(ReleasePolicy(cooldown_hours=5)) == timedelta(days=30)


def test_offline_codes_checked_online() -> None:
    def refusal(**changes: object) -> Reason | None:
        arguments: dict[str, object] = {
            "hardware_matches": True,
            "product_matches": True,
            "license": _facts(),
            "bound": True,
            "expires_at": None,
            "version": None,
            "now": NOW,
        }
        arguments.update(changes)
        return rules.offline_code_refusal(**arguments)  # type: ignore[arg-type]

    assert refusal(hardware_matches=False, product_matches=False) == Reason.HARDWARE_MISMATCH
    assert refusal(product_matches=False, bound=False) == Reason.PRODUCT_MISMATCH
    assert refusal(license=_facts(status=LicenseStatus.SUSPENDED), bound=False) == (
        Reason.LICENSE_SUSPENDED
    )
    assert refusal(bound=False) == Reason.NOT_ACTIVATED  # the publisher freed its seat
    assert refusal(version="1.0") == Reason.VERSION_OUTDATED
    assert refusal() is None
    # A code naming no license here: its own expiry decides.
    assert refusal(license=None, bound=False, expires_at=NOW) == Reason.LICENSE_EXPIRED
    assert refusal(license=None, bound=False, expires_at=NOW + timedelta(days=1)) is None


def test_trials() -> None:
    def refusal(**changes: object) -> Reason | None:
        arguments: dict[str, object] = {
            "product_active": True,
            "ever_activated": False,
            "trial_days": 14,
            "trial_expires_at": None,
            "outdated": False,
            "now": NOW,
        }
        arguments.update(changes)
        return rules.trial_refusal(**arguments)  # type: ignore[arg-type]

    assert refusal(product_active=False, ever_activated=True) == Reason.PRODUCT_INACTIVE
    assert refusal(ever_activated=True) == Reason.DEVICE_PREVIOUSLY_ACTIVATED
    assert refusal(trial_days=0) == Reason.TRIAL_NOT_AVAILABLE
    assert refusal() is None  # none yet: the caller starts one
    assert refusal(trial_expires_at=NOW, outdated=True) == Reason.TRIAL_EXPIRED
    assert refusal(trial_expires_at=NOW + timedelta(days=1), outdated=True) == (
        Reason.VERSION_OUTDATED
    )


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (None, "licensed"),
        (Reason.TRIAL_ACTIVE, "trial"),
        (Reason.LICENSE_EXPIRED, "expired"),
        (Reason.TRIAL_EXPIRED, "expired"),
        (Reason.VERSION_OUTDATED, "version_outdated"),
        (Reason.LICENSE_REVOKED, "invalid"),
        (Reason.NOT_ACTIVATED, "invalid"),
    ],
)
def test_answer_status(reason: Reason | None, status: str) -> None:
    assert rules.answer_status(reason) == status


# -- API keys --------------------------------------------------------------------------------

MINUTE = rules.utc_minute(NOW)


def _quota(**changes: object) -> QuotaFacts:
    values: dict[str, object] = {
        "status": LicenseStatus.ACTIVE,
        "expires_at": None,
        "product_active": True,
        "is_api_product": True,
        "calls_limit": 100,
        "calls_used": 90,
        "rate_limit_per_minute": 5,
        "window_minute": MINUTE,
        "window_calls": 3,
    }
    values.update(changes)
    return QuotaFacts(**values)  # type: ignore[arg-type]


#: (facts, amount) → the refusal at NOW; each case also runs in SQL below.
CONSUME_CASES: list[tuple[QuotaFacts, int, Reason | None]] = [
    (_quota(), 2, None),
    (_quota(), 3, Reason.RATE_LIMIT_EXCEEDED),  # 3 + 3 > 5 this minute
    (_quota(window_minute=MINUTE - 1), 5, None),  # last minute's calls do not count
    (_quota(window_minute=MINUTE - 1), 6, Reason.RATE_LIMIT_EXCEEDED),
    (_quota(rate_limit_per_minute=None), 10, None),
    (_quota(rate_limit_per_minute=None), 11, Reason.QUOTA_EXCEEDED),
    (_quota(calls_used=100, window_calls=0), 1, Reason.QUOTA_EXCEEDED),  # quota before rate
    (_quota(calls_used=99, window_calls=5), 2, Reason.QUOTA_EXCEEDED),
    (_quota(is_api_product=False, calls_used=100), 1, Reason.NOT_API_LICENSE),
    (_quota(product_active=False, is_api_product=False), 1, Reason.PRODUCT_INACTIVE),
    (_quota(status=LicenseStatus.SUSPENDED, product_active=False), 1, Reason.LICENSE_SUSPENDED),
    (_quota(status=LicenseStatus.REVOKED), 1, Reason.LICENSE_REVOKED),
    (_quota(expires_at=NOW), 1, Reason.LICENSE_EXPIRED),
    (_quota(expires_at=NOW + timedelta(seconds=1)), 1, None),
]


@pytest.mark.parametrize(("facts", "amount", "reason"), CONSUME_CASES)
def test_consume_checks_run_in_order(facts: QuotaFacts, amount: int, reason: Reason | None) -> None:
    assert rules.consume_refusal(facts, amount, NOW) == reason


async def test_the_consume_sql_twin_agrees_with_the_rule(seed: Seed) -> None:
    """consume_allowed_sql selects exactly the cases consume_refusal allows, on this database
    (the UPDATE that spends calls uses it as its condition)."""
    cases: dict[int, tuple[int, bool]] = {}  # license id → (amount, allowed)
    for n, (facts, amount, reason) in enumerate(CONSUME_CASES):
        product = await seed.product(
            f"Api{n}", is_active=facts.product_active, is_api_product=facts.is_api_product
        )
        license = await seed.license(product)
        await seed.update_license(license, status=facts.status, expires_at=facts.expires_at)
        async with seed.database.write() as session:
            session.add(
                ApiQuota(
                    license_id=license.id,
                    calls_limit=facts.calls_limit,
                    calls_used=facts.calls_used,
                    rate_limit_per_minute=facts.rate_limit_per_minute,
                    window_minute=facts.window_minute,
                    window_calls=facts.window_calls,
                )
            )
        cases[license.id] = (amount, reason is None)
    async with seed.database.read() as connection:
        for license_id, (amount, allowed) in cases.items():
            found = await connection.scalar(
                select(License.id)
                .join(Product, Product.id == License.product_id)
                .join(ApiQuota, ApiQuota.license_id == License.id)
                .where(License.id == license_id, rules.consume_allowed_sql(amount, NOW))
            )
            assert (found is not None) is allowed, (license_id, amount)


def test_grants_and_crossings() -> None:
    assert rules.api_grant(None, None, 1000, 60) == (1000, 60)
    assert rules.api_grant(5, None, 1000, 60) == (5, 60)
    assert rules.api_grant(0, 10, 1000, None) == (0, 10)  # a plan may grant no calls
    assert rules.quota_crossings(10, 7, 8) == [80]
    assert rules.quota_crossings(10, 8, 9) == []
    assert rules.quota_crossings(10, 0, 10) == [80, 100]
    assert rules.quota_crossings(3, 2, 3) == [80, 100]  # 80 % of 3 is 2.4: crossed from 2
    assert rules.quota_crossings(3, 1, 2) == []
    assert rules.quota_crossings(0, 0, 0) == []


@pytest.mark.parametrize(
    ("status", "expires_at", "days", "extends", "offered"),
    [
        (LicenseStatus.ACTIVE, NOW, 30, True, True),
        (LicenseStatus.ACTIVE, NOW - timedelta(days=400), 30, True, True),  # expired: renewable
        (LicenseStatus.SUSPENDED, NOW, 30, True, False),
        (LicenseStatus.REVOKED, NOW, 30, False, False),
        (LicenseStatus.ACTIVE, None, 30, False, False),  # perpetual
        (LicenseStatus.ACTIVE, NOW, 0, False, False),  # a renewal adds nothing
    ],
)
def test_renewal_extends_and_is_offered(
    status: LicenseStatus, expires_at: datetime | None, days: int, extends: bool, offered: bool
) -> None:
    assert rules.renewal_extends(status, expires_at, days) is extends
    assert rules.renewal_offered(status, expires_at, days) is offered


def test_renewal_quantity_is_the_orders_seats_for_its_one_key() -> None:
    assert rules.renewal_quantity(order_quantity=5, order_licenses=1) == 5
    assert rules.renewal_quantity(order_quantity=3, order_licenses=3) == 1  # one of 3 keys
    assert rules.renewal_quantity(order_quantity=None, order_licenses=1) == 1
    assert rules.renewal_quantity(order_quantity=0, order_licenses=1) == 1
