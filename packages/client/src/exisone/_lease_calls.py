"""The floating-seat calls (lease, heartbeat, release) and the offline check of a lease token.
No I/O: both clients send these calls through their own transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _parsing as parse
from ._dates import utc_now
from ._exceptions import AnswerSignatureError, InvalidArgumentError, InvalidLeaseToken
from ._models import BorrowedLease, LeaseCheck, LeaseGrant, LeaseStatus

if TYPE_CHECKING:
    from ._core import Call
    from ._guard import Guard
    from ._lease_token import LeasePublicKey, VerifiedLease

__all__: list[str] = []

LEASE_PATH = "/api/license/lease"
HEARTBEAT_PATH = "/api/license/lease/heartbeat"
RELEASE_PATH = "/api/license/lease/release"

MSG_NOT_CONFIGURED = "Lease tokens cannot be checked: set offline_public_key in the options."
MSG_NOT_FOUND = "No lease token given and none borrowed for this machine and product."
MSG_HARDWARE = "This lease is for another machine."
MSG_PRODUCT = "This lease is for the product {actual!r}, not {expected!r}."
MSG_EXPIRED = "The lease ran out on {expired}."


def _required(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} is required")
    return value.strip()


def _whole(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def checkout_payload(
    activation_key: str,
    hardware_id: str,
    product_name: str,
    version: str | None,
    ttl_seconds: int | None,
    borrow_hours: int | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "activationKey": _required("activation_key", activation_key),
        "hardwareId": _required("hardware_id", hardware_id),
        "productName": _required("product_name", product_name),
    }
    if version:
        payload["version"] = version
    ttl = _whole("ttl_seconds", ttl_seconds)
    if ttl is not None:
        payload["ttlSeconds"] = ttl
    hours = _whole("hours", borrow_hours)
    if hours is not None:
        payload["borrowHours"] = hours
    return payload


def check_grant(
    grant: LeaseGrant,
    public_keys: Sequence[LeasePublicKey] | None,
    hardware_id: str | None = None,
    product_name: str | None = None,
) -> LeaseGrant:
    """With trusted keys, the grant's token must verify and name this lease (and, at checkout,
    this machine and product): else AnswerSignatureError. Without keys it is taken as is."""
    if not public_keys:
        return grant
    from ._lease_token import verify_lease_token

    try:
        lease = verify_lease_token(grant.lease_token, public_keys)
    except InvalidLeaseToken as error:
        raise AnswerSignatureError(f"the lease token does not verify: {error}") from error
    if (
        lease.lease_id != grant.lease_id
        or (hardware_id is not None and not _same_machine(lease.hardware_id, hardware_id))
        or (product_name is not None and not _same_product(lease.product_name, product_name))
    ):
        raise AnswerSignatureError("the lease token names another lease, machine or product")
    return grant


def checkout(
    payload: dict[str, Any], public_keys: Sequence[LeasePublicKey] | None, name: str = "lease"
) -> Call[LeaseGrant]:
    from ._core import Call

    def read(reply: parse.Reply) -> LeaseGrant:
        parse.raise_for_status(reply, utc_now())
        grant = parse.lease_grant(parse.read_object(reply))
        return check_grant(grant, public_keys, payload["hardwareId"], payload["productName"])

    # Idempotent: the same machine checking out again renews its own lease (no second seat).
    return Call(name, "POST", LEASE_PATH, payload, True, read)


def heartbeat(
    lease_id: str, features: tuple[str, ...], public_keys: Sequence[LeasePublicKey] | None
) -> Call[LeaseGrant]:
    from ._core import Call

    def read(reply: parse.Reply) -> LeaseGrant:
        parse.raise_for_status(reply, utc_now())
        return check_grant(parse.lease_grant(parse.read_object(reply), features), public_keys)

    payload = {"leaseId": _required("lease_id", lease_id)}
    return Call("lease_heartbeat", "POST", HEARTBEAT_PATH, payload, True, read)


def release(lease_id: str) -> Call[bool]:
    from ._core import Call

    def read(reply: parse.Reply) -> bool:
        parse.raise_for_status(reply, utc_now())
        return True

    payload = {"leaseId": _required("lease_id", lease_id)}
    return Call("lease_release", "POST", RELEASE_PATH, payload, True, read)


def borrowed(grant: LeaseGrant, payload: dict[str, Any]) -> BorrowedLease:
    return BorrowedLease(
        lease_id=grant.lease_id,
        lease_token=grant.lease_token,
        expires_at=grant.expires_at,
        activation_key=payload["activationKey"],
        hardware_id=payload["hardwareId"],
        product_name=payload["productName"],
        features=grant.features,
        seats_in_use=grant.seats_in_use,
        max_seats=grant.max_seats,
    )


def check_offline(
    guard: Guard,
    keys: Sequence[LeasePublicKey] | None,
    token: str | None,
    hardware_id: str,
    product_name: str,
    now: datetime | None,
) -> LeaseCheck:
    """validate_lease_offline: signature, product, machine, this computer's clock, expiry."""
    hardware_id = _required("hardware_id", hardware_id)
    product_name = _required("product_name", product_name)
    if not keys:
        return LeaseCheck(False, LeaseStatus.NOT_CONFIGURED, MSG_NOT_CONFIGURED)
    if token is None:
        token = guard.borrowed_leases().token(hardware_id, product_name)
        if token is None:
            return LeaseCheck(False, LeaseStatus.NOT_FOUND, MSG_NOT_FOUND)
    from ._lease_token import verify_lease_token

    try:
        lease = verify_lease_token(token, keys)
    except InvalidLeaseToken as error:
        return LeaseCheck(False, LeaseStatus.INVALID, str(error))
    result = _fields(lease)
    if not _same_product(lease.product_name, product_name):
        message = MSG_PRODUCT.format(actual=lease.product_name, expected=product_name)
        return replace(
            result, is_valid=False, status=LeaseStatus.PRODUCT_MISMATCH, error_message=message
        )
    if not _same_machine(lease.hardware_id, hardware_id):
        return replace(
            result, is_valid=False, status=LeaseStatus.HARDWARE_MISMATCH, error_message=MSG_HARDWARE
        )
    moment = now if now is not None else guard.now()
    if now is None:  # the clock check is about this moment, not one asked about
        trusted = guard.clock_behind(moment, lease.issued_at)
        if trusted is not None:
            return replace(
                result,
                is_valid=False,
                status=LeaseStatus.CLOCK_TAMPERED,
                error_message=guard.clock_message(trusted),
            )
    if lease.is_expired(moment):
        message = MSG_EXPIRED.format(expired=lease.expires_at.isoformat())
        return replace(result, is_valid=False, status=LeaseStatus.EXPIRED, error_message=message)
    if now is None:
        guard.trust_signed(lease.issued_at, moment)
    return result


def _fields(lease: VerifiedLease) -> LeaseCheck:
    return LeaseCheck(
        is_valid=True,
        status=LeaseStatus.VALID,
        lease_id=lease.lease_id,
        expires_at=lease.expires_at,
        features=lease.features,
        borrowed=lease.borrowed,
        product_name=lease.product_name,
        hardware_id=lease.hardware_id,
    )


def _same_machine(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


def _same_product(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()
