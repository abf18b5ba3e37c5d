"""The licensing rules, each written once: pure functions of a license's facts and a moment.

Every path that decides about a license calls these and nothing else: the online validation
(:mod:`.validate`, whose rows come from :mod:`..fastpath`), the offline code and trial
validations, the write service (:mod:`.service`: activate, offline codes, deactivate), the bulk
answers and the publisher's views and filters. A rule that must also run inside SQL (the
publisher's status filter and counts) has its SQL twin built here, next to it;
``tests/server/test_rules.py`` checks that the two agree on a table of cases.

The order of the checks is part of the rules (it decides which refusal a client sees):

* validate, online key (:func:`validation_refusal`): license state → product named →
  product active → device bound → version;
* activate and offline codes (:func:`activation_refusal`): product named → license state →
  product active → version; then the seats (:func:`seat_refusal`);
* check a floating seat out (:func:`lease_refusal`): the activation order, then not floating,
  then a borrow or TTL out of the plan's bounds (:func:`lease_span`), then the live leases
  (:func:`lease_seat_refusal`); a lease that ran out holds no seat (:func:`lease_live`);
* grace (:func:`license_state` with ``grace_days``): an expired license stays ``active`` for
  its plan's grace days; :func:`license_state_sql` and :func:`license_state_is` take the plan's
  days from the row (:func:`grace_ends_sql`);
* release a device (:func:`release_refusal`): who may (the publisher always; a customer when
  the product lets customers release; an offline code's seat only by the publisher, or by a
  customer when the product allows it) → the waits (cooldown since the last release, releases
  per 30 days), the one lifting last named.

What a payment buys (:func:`purchase_days`, :func:`purchase_shape`, :func:`renewal_days`) is
decided here too, for every payment provider alike (``payments/``).
* consume calls of an API key (:func:`consume_refusal`): license state → product active →
  API product → calls left → calls this minute. Its SQL twin, :func:`consume_allowed_sql`, is
  the condition of the one UPDATE that consumes (so a key never gives more than it was granted).

Reasons are the ``reason`` of validate's answer and the ``error`` code of activate's refusals;
``docs/errors.md`` lists them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, ColumnElement, and_, case, or_, select
from sqlalchemy.orm import aliased

from exisone.protocol import ValidationReason

from ..kit.sql_time import plus_days
from ..kit.versions import is_older
from ..models import ApiQuota, License, LicenseStatus, Plan, Product

__all__ = [
    "MAX_KEYS_PER_ORDER",
    "QUOTA_THRESHOLDS",
    "RELEASE_WINDOW",
    "KeyFacts",
    "LeasePolicy",
    "LicenseState",
    "PurchaseShape",
    "QuotaFacts",
    "Reason",
    "ReleasePolicy",
    "ReleaseRefusal",
    "Releaser",
    "activation_refusal",
    "answer_status",
    "api_grant",
    "calls_in_window",
    "consume_allowed_sql",
    "consume_refusal",
    "grace_ends_sql",
    "grace_until",
    "has_free_seat",
    "lease_live",
    "lease_refusal",
    "lease_seat_refusal",
    "lease_span",
    "license_state",
    "license_state_is",
    "license_state_sql",
    "may_release",
    "offline_code_refusal",
    "product_named",
    "purchase_days",
    "purchase_shape",
    "quota_crossings",
    "release_lookback",
    "release_refusal",
    "release_wait",
    "renewal_days",
    "renewal_extends",
    "renewal_offered",
    "renewal_quantity",
    "seat_limit",
    "seat_refusal",
    "state_reason",
    "trial_refusal",
    "utc_minute",
    "validation_refusal",
    "version_outdated",
]


class LicenseState(enum.StrEnum):
    """What a license is at a moment: its administrative status, then its expiry."""

    ACTIVE = "active"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Reason(enum.StrEnum):
    """Why a license is or is not usable (validate's ``reason``, activate's ``error``)."""

    LICENSED = "licensed"
    LICENSE_NOT_FOUND = "license_not_found"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_SUSPENDED = "license_suspended"
    LICENSE_EXPIRED = "license_expired"
    PRODUCT_MISMATCH = "product_mismatch"
    PRODUCT_INACTIVE = "product_inactive"
    NOT_ACTIVATED = "not_activated"
    VERSION_OUTDATED = "version_outdated"
    LICENSE_IN_USE = "license_in_use"
    SEAT_LIMIT_REACHED = "seat_limit_reached"
    OFFLINE_SEAT = "offline_seat"
    OFFLINE_CODE_INVALID = "offline_code_invalid"
    HARDWARE_MISMATCH = "hardware_mismatch"
    PRODUCT_NOT_FOUND = "product_not_found"
    PRODUCT_NAME_REQUIRED = "product_name_required"
    TRIAL_ACTIVE = "trial_active"
    TRIAL_EXPIRED = "trial_expired"
    TRIAL_NOT_AVAILABLE = "trial_not_available"
    DEVICE_PREVIOUSLY_ACTIVATED = "device_previously_activated"
    RELEASE_NOT_ALLOWED = "release_not_allowed"
    RELEASE_COOLDOWN = "release_cooldown"
    RELEASE_LIMIT_REACHED = "release_limit_reached"
    NOT_API_LICENSE = "not_api_license"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    NOT_FLOATING = "not_floating"
    NO_FREE_SEAT = "no_free_seat"
    LEASE_NOT_FOUND = "lease_not_found"
    LEASE_EXPIRED = "lease_expired"


_STATE_REASONS = {
    LicenseState.REVOKED: Reason.LICENSE_REVOKED,
    LicenseState.SUSPENDED: Reason.LICENSE_SUSPENDED,
    LicenseState.EXPIRED: Reason.LICENSE_EXPIRED,
}


def state_reason(state: LicenseState) -> Reason | None:
    """The refusal a license's state makes: ``license_revoked`` / ``license_suspended`` /
    ``license_expired``; None when it is active."""
    return _STATE_REASONS.get(state)


@dataclass(frozen=True)
class KeyFacts:
    """What the rules read of a license and its product."""

    status: LicenseStatus
    expires_at: datetime | None
    product_name: str
    product_active: bool
    enforce_version_check: bool
    minimum_required_version: str | None
    #: The plan's days of grace after expiry (0: none).
    grace_days: int = 0


def grace_until(expires_at: datetime | None, grace_days: int) -> datetime | None:
    """When an expired license stops being usable: ``expires_at`` plus the grace days (None for
    a perpetual license)."""
    if expires_at is None:
        return None
    return expires_at + timedelta(days=max(grace_days, 0))


def license_state(
    status: LicenseStatus, expires_at: datetime | None, now: datetime, grace_days: int = 0
) -> LicenseState:
    """Revoked and suspended win over expiry; a license expires at ``expires_at`` plus its
    ``grace_days`` exactly (during grace it is still ``active``)."""
    if status is LicenseStatus.REVOKED:
        return LicenseState.REVOKED
    if status is LicenseStatus.SUSPENDED:
        return LicenseState.SUSPENDED
    ends = grace_until(expires_at, grace_days)
    if ends is not None and ends <= now:
        return LicenseState.EXPIRED
    return LicenseState.ACTIVE


def grace_ends_sql() -> ColumnElement[datetime]:
    """:func:`grace_until` of ``licenses`` rows in SQL: ``expires_at`` plus the grace days of
    the license's plan (none without a plan)."""
    plan = aliased(Plan, name="grace_plan")  # never correlated to a plan of the outer query
    days = (
        select(plan.grace_days)
        .where(plan.id == License.plan_id)
        .correlate(License)
        .scalar_subquery()
    )
    return plus_days(License.expires_at, days)


def _expired_sql(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return and_(License.expires_at.is_not(None), grace_ends_sql() <= now)


def license_state_sql(now: datetime) -> ColumnElement[str]:
    """:func:`license_state` of ``licenses`` rows as a SQL expression (the same values)."""
    return case(
        (License.status == LicenseStatus.REVOKED, LicenseState.REVOKED.value),
        (License.status == LicenseStatus.SUSPENDED, LicenseState.SUSPENDED.value),
        (_expired_sql(now), LicenseState.EXPIRED.value),
        else_=LicenseState.ACTIVE.value,
    )


def license_state_is(
    state: LicenseState, now: datetime | BindParameter[datetime]
) -> ColumnElement[bool]:
    """SQL condition: the license is in ``state`` at ``now`` (no CASE; an expiry later than
    ``now`` is decided on the indexed column before the plan's grace is read)."""
    if state is LicenseState.REVOKED:
        return License.status == LicenseStatus.REVOKED
    if state is LicenseState.SUSPENDED:
        return License.status == LicenseStatus.SUSPENDED
    if state is LicenseState.EXPIRED:
        return and_(
            License.status == LicenseStatus.ACTIVE, License.expires_at <= now, _expired_sql(now)
        )
    return and_(
        License.status == LicenseStatus.ACTIVE,
        or_(
            License.expires_at.is_(None),
            License.expires_at > now,
            grace_ends_sql() > now,
        ),
    )


def product_named(requested: str | None, product_name: str) -> bool:
    """Whether a request's ``productName`` names the license's product (none or "" names any;
    surrounding spaces do not count)."""
    return not requested or requested.strip() == product_name


def version_outdated(enforce: bool, minimum: str | None, client_version: str | None) -> bool:
    """True when the product enforces a minimum and the client sent an older version.

    A client that sends no version is not refused (the SDKs' smart validation never sends one).
    """
    return bool(enforce and minimum and client_version and is_older(client_version, minimum))


def seat_limit(is_corporate: bool, max_seats: int | None) -> int | None:
    """Devices a license may hold at once: 1 for single-device, None for unlimited.

    A corporate license with ``max_seats`` None or 0 is unlimited (0 as in ExisOne's MCP tool).
    """
    if not is_corporate:
        return 1
    return max_seats if max_seats and max_seats > 0 else None


def has_free_seat(limit: int | None, seats_in_use: int) -> bool:
    return limit is None or seats_in_use < limit


def validation_refusal(
    facts: KeyFacts, *, product_name: str | None, version: str | None, bound: bool, now: datetime
) -> Reason | None:
    """Why validating this online key on a device fails, or None (``licensed``)."""
    state = license_state(facts.status, facts.expires_at, now, facts.grace_days)
    if state is not LicenseState.ACTIVE:
        return _STATE_REASONS[state]
    if not product_named(product_name, facts.product_name):
        return Reason.PRODUCT_MISMATCH
    if not facts.product_active:
        return Reason.PRODUCT_INACTIVE
    if not bound:
        return Reason.NOT_ACTIVATED
    if version_outdated(facts.enforce_version_check, facts.minimum_required_version, version):
        return Reason.VERSION_OUTDATED
    return None


def activation_refusal(
    facts: KeyFacts, *, product_name: str | None, version: str | None, now: datetime
) -> Reason | None:
    """Why a device cannot be bound to this license now (before seats), or None.

    ``product_name`` None skips the product check (an offline code names no product request).
    """
    if product_name is not None and product_name.strip() != facts.product_name:
        return Reason.PRODUCT_MISMATCH
    state = license_state(facts.status, facts.expires_at, now, facts.grace_days)
    if state is not LicenseState.ACTIVE:
        return _STATE_REASONS[state]
    if not facts.product_active:
        return Reason.PRODUCT_INACTIVE
    if version_outdated(facts.enforce_version_check, facts.minimum_required_version, version):
        return Reason.VERSION_OUTDATED
    return None


def offline_code_refusal(
    *,
    hardware_matches: bool,
    product_matches: bool,
    license: KeyFacts | None,
    bound: bool,
    expires_at: datetime | None,
    version: str | None,
    now: datetime,
) -> Reason | None:
    """Why a verified offline code fails when checked online, or None.

    ``license``: the facts of the license the code names (None: it names none, or one this
    server does not hold); its current state wins over the signed payload (renewed, revoked,
    suspended), and a code whose device no longer holds its seat (``bound`` False: the
    publisher released it) fails. Without a license, the payload's expiry decides.
    """
    if not hardware_matches:
        return Reason.HARDWARE_MISMATCH
    if not product_matches:
        return Reason.PRODUCT_MISMATCH
    if license is None:
        expired = expires_at is not None and expires_at <= now
        return Reason.LICENSE_EXPIRED if expired else None
    state = license_state(license.status, license.expires_at, now, license.grace_days)
    if state is not LicenseState.ACTIVE:
        return _STATE_REASONS[state]
    if not bound:
        return Reason.NOT_ACTIVATED
    if version_outdated(license.enforce_version_check, license.minimum_required_version, version):
        return Reason.VERSION_OUTDATED
    return None


@dataclass(frozen=True)
class LeasePolicy:
    """A plan's floating-seat settings (a license without a plan gets the defaults)."""

    ttl_min_seconds: int = 60
    ttl_max_seconds: int = 3600
    ttl_default_seconds: int = 600
    #: The longest borrow for offline use; 0 = no borrowing.
    max_borrow_hours: int = 0


def lease_span(
    policy: LeasePolicy, ttl_seconds: int | None, borrow_hours: float | None
) -> tuple[timedelta, int] | None:
    """``(how long the lease runs, its TTL in seconds)`` for a checkout, or None when the
    requested TTL or borrow lies outside the policy's bounds. A borrow runs ``borrow_hours``
    (more than 0, at most ``max_borrow_hours``); otherwise the TTL (the default when none is
    asked for; asked for: between the bounds, inclusive)."""
    ttl = policy.ttl_default_seconds if ttl_seconds is None else ttl_seconds
    if not policy.ttl_min_seconds <= ttl <= policy.ttl_max_seconds:
        return None
    if borrow_hours is not None:
        if not 0 < borrow_hours <= policy.max_borrow_hours:
            return None
        return timedelta(hours=borrow_hours), ttl
    return timedelta(seconds=ttl), ttl


def lease_refusal(
    facts: KeyFacts,
    *,
    floating: bool,
    product_name: str | None,
    version: str | None,
    now: datetime,
) -> Reason | None:
    """Why no lease of this license may be checked out now (before seats), or None: the
    :func:`activation_refusal` checks, then ``not_floating``."""
    refusal = activation_refusal(facts, product_name=product_name, version=version, now=now)
    if refusal is not None:
        return refusal
    return None if floating else Reason.NOT_FLOATING


def lease_live(expires_at: datetime, ended_at: datetime | None, now: datetime) -> bool:
    """A lease holds its seat until it is ended or ``expires_at`` comes (exactly)."""
    return ended_at is None and expires_at > now


def lease_seat_refusal(limit: int | None, live_leases: int) -> Reason | None:
    """Why one more lease cannot be checked out with ``live_leases`` held, or None."""
    return None if has_free_seat(limit, live_leases) else Reason.NO_FREE_SEAT


def seat_refusal(is_corporate: bool, limit: int | None, seats_in_use: int) -> Reason | None:
    """Why one more device cannot take a seat, or None."""
    if has_free_seat(limit, seats_in_use):
        return None
    return Reason.SEAT_LIMIT_REACHED if is_corporate else Reason.LICENSE_IN_USE


class Releaser(enum.StrEnum):
    """Who frees a device's seat (the ``actor`` of the ``deactivated`` history event)."""

    #: The dashboard, the publisher API (free-device), the CLI: bound by no release rule.
    PUBLISHER = "publisher"
    #: The end customer, in the customer portal.
    CUSTOMER = "customer"
    #: The licensed application itself (``POST /api/license/deactivate``).
    APPLICATION = "application"


#: The period :attr:`ReleasePolicy.max_releases_per_30_days` counts in.
RELEASE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class ReleasePolicy:
    """A product's rules for freeing seats, set by the publisher."""

    #: Customers may release devices in the portal (the application's deactivate is not
    #: governed by this switch: its vendor decides whether the application offers it).
    customer_may_release: bool = True
    #: ... also a seat that backs an offline code.
    customer_may_release_offline: bool = False
    #: Hours the next release of a license waits after the last one; None or 0 = no wait.
    cooldown_hours: int | None = None
    #: Most releases of one license per :data:`RELEASE_WINDOW`; None = no limit.
    max_releases_per_30_days: int | None = None


@dataclass(frozen=True)
class ReleaseRefusal:
    """Why a release is refused and when that ends (None: waiting does not lift it)."""

    reason: Reason
    lifts_at: datetime | None = None


def may_release(activation_is_offline: bool, *, by: Releaser, policy: ReleasePolicy) -> bool:
    """Whether ``by`` may free a device's seat at all (the waits aside).

    A seat taken by issuing an offline code is freed only by the publisher: the signed code
    stays valid offline on that device, so an application's deactivate (any access token) must
    not give the seat to a second device. A product may let its customers release such a seat
    in the portal (``customer_may_release_offline``), trusting them to stop using the code.
    """
    if by is Releaser.PUBLISHER:
        return True
    if by is Releaser.APPLICATION:
        return not activation_is_offline
    if not policy.customer_may_release:
        return False
    return not activation_is_offline or policy.customer_may_release_offline


def release_lookback(policy: ReleasePolicy) -> timedelta:
    """How far back the releases passed to :func:`release_wait` must reach."""
    return max(RELEASE_WINDOW, timedelta(hours=policy.cooldown_hours or 0))


def release_wait(
    policy: ReleasePolicy, releases: Sequence[datetime], now: datetime
) -> ReleaseRefusal | None:
    """The waiting rules: None when a release may happen at ``now``.

    ``releases``: when the license's earlier releases by customers and applications happened
    (any order; at least those of :func:`release_lookback`). The publisher's releases do not
    count. When both rules refuse, the one that lifts later is named (ties: the cooldown).
    """
    waits: list[ReleaseRefusal] = []
    if policy.cooldown_hours and releases:
        lifts = max(releases) + timedelta(hours=policy.cooldown_hours)
        if now < lifts:
            waits.append(ReleaseRefusal(Reason.RELEASE_COOLDOWN, lifts))
    most = policy.max_releases_per_30_days
    if most is not None:
        recent = sorted((at for at in releases if at > now - RELEASE_WINDOW), reverse=True)
        if len(recent) >= most:
            # The oldest of the last ``most`` releases must leave the window first.
            ends = recent[most - 1] + RELEASE_WINDOW if most > 0 else None
            waits.append(ReleaseRefusal(Reason.RELEASE_LIMIT_REACHED, ends))
    if not waits:
        return None
    return max(waits, key=lambda wait: (wait.lifts_at is None, wait.lifts_at or now))


def release_refusal(
    policy: ReleasePolicy,
    *,
    by: Releaser,
    activation_is_offline: bool,
    releases: Sequence[datetime],
    now: datetime,
) -> ReleaseRefusal | None:
    """Why ``by`` may not free a device's seat now, or None; in this order: the customer
    switch (``release_not_allowed``), an offline code's seat (``offline_seat``), then
    :func:`release_wait` (``release_cooldown``, ``release_limit_reached``, with the time it
    lifts). The publisher is never refused."""
    if by is Releaser.PUBLISHER:
        return None
    if by is Releaser.CUSTOMER and not policy.customer_may_release:
        return ReleaseRefusal(Reason.RELEASE_NOT_ALLOWED)
    if not may_release(activation_is_offline, by=by, policy=policy):
        return ReleaseRefusal(Reason.OFFLINE_SEAT)
    return release_wait(policy, releases, now)


def trial_refusal(
    *,
    product_active: bool,
    ever_activated: bool,
    trial_days: int,
    trial_expires_at: datetime | None,
    outdated: bool,
    now: datetime,
) -> Reason | None:
    """Why a device gets no running trial of a product, or None.

    One trial per product and device, never reset, and none for a device that was ever
    activated for the product. A device without a trial (``trial_expires_at`` None) gets None
    when the product offers one: the caller starts it and asks again with its expiry.
    """
    if not product_active:
        return Reason.PRODUCT_INACTIVE
    if ever_activated:
        return Reason.DEVICE_PREVIOUSLY_ACTIVATED
    if trial_expires_at is None:
        return None if trial_days > 0 else Reason.TRIAL_NOT_AVAILABLE
    if trial_expires_at <= now:
        return Reason.TRIAL_EXPIRED
    if outdated:
        return Reason.VERSION_OUTDATED
    return None


def answer_status(reason: Reason | None) -> str:
    """validate's ``status`` for a reason (the protocol's mapping): ``licensed``, ``trial``,
    ``expired``, ``version_outdated`` or ``invalid``."""
    return ValidationReason(reason or Reason.LICENSED).status.value


#: The most keys one order makes (quantity meaning ``keys``); a larger order fails, kept.
MAX_KEYS_PER_ORDER = 100


def purchase_days(*, plan_days: int | None, product_days: int, requested_days: int | None) -> int:
    """Validity of a bought license in days (0 = perpetual), ExisOne's rules.

    An explicit plan's days win. Without one, a perpetual product (default 0 days) stays
    perpetual whatever days the checkout asks for; otherwise the checkout's days (``days``
    metadata), else the product's default days.
    """
    if plan_days is not None:
        return plan_days
    if product_days == 0:
        return 0
    return requested_days if requested_days is not None and requested_days > 0 else product_days


@dataclass(frozen=True)
class PurchaseShape:
    """The licenses one order makes: ``licenses`` keys, each corporate with ``seats`` (None:
    unlimited) or single-device."""

    licenses: int
    is_corporate: bool
    seats: int | None


def purchase_shape(
    quantity: int, quantity_means: str, *, plan_corporate: bool = False, plan_seats: int | None
) -> PurchaseShape:
    """What a purchase of ``quantity`` makes, by what the product says quantity means.

    * ``seats``: one key; more than one unit makes it corporate with that many seats; one unit
      gives the plan's shape (corporate with its seats, or single-device).
    * ``keys``: ``quantity`` keys of the plan's shape (at most :data:`MAX_KEYS_PER_ORDER`).

    Raises ValueError for a quantity below 1, too many keys, or an unknown meaning.
    """
    if quantity < 1:
        raise ValueError("the quantity must be 1 or more")
    if quantity_means == "seats":
        if quantity > 1:
            return PurchaseShape(1, True, quantity)
        return PurchaseShape(1, plan_corporate, plan_seats if plan_corporate else None)
    if quantity_means == "keys":
        if quantity > MAX_KEYS_PER_ORDER:
            raise ValueError(f"an order makes at most {MAX_KEYS_PER_ORDER} keys")
        return PurchaseShape(quantity, plan_corporate, plan_seats if plan_corporate else None)
    raise ValueError(f"unknown quantity meaning {quantity_means!r}")


def renewal_days(*, plan_days: int | None, product_days: int) -> int:
    """Days a paid renewal adds to a license: its plan's, else its product's default (0: the
    license is perpetual and a renewal changes nothing)."""
    return plan_days if plan_days is not None else product_days


def renewal_extends(status: LicenseStatus, expires_at: datetime | None, days: int) -> bool:
    """Whether a paid renewal extends a license: it is not revoked, it expires, and a renewal
    adds ``days`` (:func:`renewal_days`) to it (a suspended one is extended, still suspended)."""
    return status is not LicenseStatus.REVOKED and expires_at is not None and days > 0


def renewal_offered(status: LicenseStatus, expires_at: datetime | None, days: int) -> bool:
    """Whether a customer is offered to pay to renew a license: a renewal extends it and it
    is not suspended (resuming a suspended key is the publisher's decision)."""
    return status is not LicenseStatus.SUSPENDED and renewal_extends(status, expires_at, days)


def renewal_quantity(*, order_quantity: int | None, order_licenses: int) -> int:
    """The quantity a renewal is paid for: the order's when it made this one license (its
    seats), else 1 (one of the keys an order of many made, or a license sold without one)."""
    if order_quantity is not None and order_licenses == 1:
        return max(1, order_quantity)
    return 1


# -- API keys: quotas of calls ---------------------------------------------------------------

#: The shares of a key's granted calls (percent) whose crossing is announced by a webhook
#: (``license.quota.warning``, ``license.quota.exhausted``).
QUOTA_THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class QuotaFacts:
    """What :func:`consume_refusal` reads of an API key, its product and its quota."""

    status: LicenseStatus
    expires_at: datetime | None
    product_active: bool
    is_api_product: bool
    calls_limit: int
    calls_used: int
    rate_limit_per_minute: int | None
    window_minute: int
    window_calls: int
    grace_days: int = 0


def utc_minute(now: datetime) -> int:
    """The fixed per-minute window holding ``now``: whole minutes since the Unix epoch."""
    return int(now.timestamp()) // 60


def calls_in_window(window_minute: int, window_calls: int, minute: int) -> int:
    """Calls already counted in the window ``minute`` (a stored older window counts none)."""
    return window_calls if window_minute == minute else 0


def consume_refusal(facts: QuotaFacts, amount: int, now: datetime) -> Reason | None:
    """Why the key may not consume ``amount`` calls now, or None (it may)."""
    state = license_state(facts.status, facts.expires_at, now, facts.grace_days)
    if state is not LicenseState.ACTIVE:
        return _STATE_REASONS[state]
    if not facts.product_active:
        return Reason.PRODUCT_INACTIVE
    if not facts.is_api_product:
        return Reason.NOT_API_LICENSE
    if facts.calls_used + amount > facts.calls_limit:
        return Reason.QUOTA_EXCEEDED
    rate = facts.rate_limit_per_minute
    window = calls_in_window(facts.window_minute, facts.window_calls, utc_minute(now))
    if rate is not None and window + amount > rate:
        return Reason.RATE_LIMIT_EXCEEDED
    return None


def consume_allowed_sql(
    amount: int | BindParameter[int],
    now: datetime | BindParameter[datetime],
    minute: int | BindParameter[int] | None = None,
) -> ColumnElement[bool]:
    """:func:`consume_refusal` is None, as a SQL condition on ``licenses``, ``products`` and
    ``api_quotas`` rows (joined by the caller). The values may be bind parameters (a statement
    built once); ``minute`` is :func:`utc_minute` of ``now``, computed when left out."""
    if minute is None:
        assert isinstance(now, datetime)
        minute = utc_minute(now)
    window = case((ApiQuota.window_minute == minute, ApiQuota.window_calls), else_=0)
    return and_(
        license_state_is(LicenseState.ACTIVE, now),
        Product.is_active.is_(True),
        Product.is_api_product.is_(True),
        ApiQuota.calls_used + amount <= ApiQuota.calls_limit,
        or_(
            ApiQuota.rate_limit_per_minute.is_(None),
            window + amount <= ApiQuota.rate_limit_per_minute,
        ),
    )


def api_grant(
    plan_calls: int | None,
    plan_rate: int | None,
    product_calls: int,
    product_rate: int | None,
) -> tuple[int, int | None]:
    """``(calls, calls per minute)`` a new key is granted: the plan's, else the product's."""
    calls = plan_calls if plan_calls is not None else product_calls
    rate = plan_rate if plan_rate is not None else product_rate
    return calls, rate


def quota_crossings(limit: int, used_before: int, used_after: int) -> list[int]:
    """The :data:`QUOTA_THRESHOLDS` (percent of ``limit``) that a consume from ``used_before``
    to ``used_after`` crossed: reached now, not before."""
    if limit <= 0:
        return []
    return [
        share for share in QUOTA_THRESHOLDS if used_before * 100 < share * limit <= used_after * 100
    ]
