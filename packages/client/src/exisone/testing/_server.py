"""An in-memory ExisOne server as an httpx transport (sync and async)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

import httpx

from .._answer_signature import NONCE_HEADER, SIGNATURE_HEADER, is_valid_nonce, sign_answer
from .._codes import ErrorCode
from .._codes import ValidationReason as Reason
from .._dates import PERPETUAL, format_datetime
from ._keys import KeyPair

if TYPE_CHECKING:
    from .._async_client import AsyncExisOneClient
    from .._client import ExisOneClient

__all__ = ["FakeExisOneServer", "FakeLease", "FakeLicense", "FakeProduct"]

BASE_URL = "https://licensing.test"
TOKEN = "exo_at_fake_secret"


@dataclass
class FakeProduct:
    name: str
    version: str = "1.0.0"
    minimum_version: str | None = None
    trial_days: int = 14
    trials: dict[str, datetime] = field(default_factory=dict)
    """Trial start per hardware ID."""


@dataclass
class FakeLicense:
    key: str
    product: str
    email: str = "user@example.com"
    expires: datetime | None = None
    """``None``: perpetual."""
    features: list[str] = field(default_factory=list)
    max_seats: int = 1
    revoked: bool = False
    devices: set[str] = field(default_factory=set)
    floating: bool = False
    """Seats are leased (``max_seats`` at once), not activated."""
    suspended: bool = False
    min_ttl_seconds: int = 1
    max_ttl_seconds: int = 3600
    default_ttl_seconds: int = 300
    max_borrow_hours: int = 168
    grace_days: int = 0
    """Days after ``expires`` that validate still answers licensed (with ``graceUntil``)."""
    check_in_days: int | None = None
    """Sent as ``checkInDays`` by validate."""


@dataclass
class FakeLease:
    """A floating seat checked out of a :class:`FakeLicense`."""

    lease_id: str
    key: str
    hardware_id: str
    product: str
    expires_at: datetime
    ttl_seconds: int
    borrowed: bool = False
    heartbeats: int = 0


class FakeExisOneServer(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The client endpoints of exisone-server, in memory. Pass it as ``transport=``.

    ``reachable = False`` makes every request fail like a closed port (``ConnectError``).
    With a ``key_pair``, answers to requests that carry a nonce are signed, as the real server.
    """

    def __init__(
        self,
        *,
        key_pair: KeyPair | None = None,
        clock: Callable[[], datetime] | None = None,
        access_token: str = TOKEN,
        base_url: str = BASE_URL,
    ) -> None:
        self.key_pair = key_pair
        self._given_clock = clock
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.access_token = access_token
        self.base_url = base_url
        self.products: dict[str, FakeProduct] = {}
        self.licenses: dict[str, FakeLicense] = {}
        self.leases: dict[str, FakeLease] = {}
        """Leases by id, run-out ones included (until released or ended)."""
        self.requests: list[httpx.Request] = []
        self.reachable = True
        self.sign_answers = key_pair is not None

    # -- setting up ----------------------------------------------------------------------------

    def add_product(
        self,
        name: str,
        *,
        version: str = "1.0.0",
        minimum_version: str | None = None,
        trial_days: int = 14,
    ) -> FakeProduct:
        product = FakeProduct(name, version, minimum_version, trial_days)
        self.products[name.casefold()] = product
        return product

    def add_license(
        self,
        product: str | FakeProduct,
        *,
        key: str | None = None,
        expires: datetime | None = None,
        features: Sequence[str] = (),
        max_seats: int = 1,
        email: str = "user@example.com",
        floating: bool = False,
    ) -> FakeLicense:
        """A license of ``product`` (its name, or what :meth:`add_product` returned; a name not
        added yet is added with defaults); returns it (``.key``)."""
        if isinstance(product, FakeProduct):
            self.products.setdefault(product.name.casefold(), product)
            name = product.name
        else:
            name = product
            if name.casefold() not in self.products:
                self.add_product(name)
        key = key or "-".join(secrets.token_hex(2).upper() for _ in range(4))
        license = FakeLicense(key, name, email, expires, list(features), max_seats)
        license.floating = floating
        self.licenses[key] = license
        return license

    def revoke(self, key: str) -> None:
        self.licenses[key].revoked = True

    def live_leases(self, key: str) -> list[FakeLease]:
        """The leases of ``key`` that have not run out (by the server's clock)."""
        now = self.clock()
        return [
            lease for lease in self.leases.values() if lease.key == key and lease.expires_at > now
        ]

    def end_lease(self, lease_id: str) -> None:
        """End a lease as the publisher does: its heartbeats answer 404 from now on."""
        del self.leases[lease_id]

    def client(self, **options: Any) -> ExisOneClient:
        """An :class:`~exisone.ExisOneClient` wired to this server (options override)."""
        from .._client import ExisOneClient

        return ExisOneClient(**self._client_options(options))

    def async_client(self, **options: Any) -> AsyncExisOneClient:
        """An :class:`~exisone.AsyncExisOneClient` wired to this server."""
        from .._async_client import AsyncExisOneClient

        return AsyncExisOneClient(**self._client_options(options))

    def _client_options(self, options: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "access_token": self.access_token,
            "transport": self,
            "max_retries": 0,
        }
        if self.key_pair is not None:
            settings["offline_public_key"] = self.key_pair.public_key_pem
        if self._given_clock is not None:
            settings["clock"] = self._given_clock
        settings.update(options)
        return settings

    # -- transport -----------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.reachable:
            raise httpx.ConnectError("fake server unreachable", request=request)
        body = request.read()
        path = request.url.path
        api_path = path[path.find("/api/") :] if "/api/" in path else path
        status, data = self._route(request, api_path, body)
        content = json.dumps(data, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        nonce = request.headers.get(NONCE_HEADER)
        if (
            self.sign_answers
            and self.key_pair
            and nonce
            and is_valid_nonce(nonce)
            and status != 401
        ):
            headers[SIGNATURE_HEADER] = sign_answer(
                self.key_pair.private_key,
                self.key_pair.key_id,
                method=request.method,
                path=api_path,
                nonce=nonce,
                timestamp=int(self.clock().timestamp()),
                status=status,
                request_digest=hashlib.sha256(body).hexdigest(),
                response_body=content,
            )
        return httpx.Response(status, headers=headers, content=content)

    def _route(self, request: httpx.Request, path: str, body: bytes) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"ExisOneApi {self.access_token}":
            return 401, _error(ErrorCode.INVALID_TOKEN, "Unknown access token.")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return 400, _error(ErrorCode.INVALID_JSON, "The body is not JSON.")
        routes: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {
            "/api/license/validate": self._validate,
            "/api/license/activate": self._activate,
            "/api/license/deactivate": self._deactivate,
            "/api/license/features/csv": self._features,
            "/api/license/lease": self._lease,
            "/api/license/lease/heartbeat": self._heartbeat,
            "/api/license/lease/release": self._release,
        }
        handler = routes.get(path)
        if handler is not None and request.method == "POST" and isinstance(data, dict):
            return handler(data)
        if request.method == "GET" and path.startswith("/api/license/") and path.endswith("/usage"):
            return self._usage(path[len("/api/license/") : -len("/usage")])
        return 404, _error(
            ErrorCode.NOT_FOUND, f"No route {request.method} {path} in the fake server."
        )

    # -- endpoints -----------------------------------------------------------------------------

    def _validate(self, data: dict[str, Any]) -> tuple[int, Any]:
        now = self.clock()
        key = str(data.get("activationKey") or "").strip()
        hwid = str(data.get("hardwareId") or "").strip().upper()
        if not key:
            return 200, self._trial(str(data.get("productName") or "").strip(), hwid, now)
        license = self.licenses.get(key)
        if license is None:
            return 200, _validation(Reason.LICENSE_NOT_FOUND, None)
        product = self.products[license.product.casefold()]
        expiry, features = license.expires, license.features
        extra: dict[str, Any] = {"serverVersion": product.version, "productName": license.product}
        if product.minimum_version:
            extra["minimumRequiredVersion"] = product.minimum_version
        asked = data.get("productName")
        version = data.get("version")
        if asked and str(asked).strip().casefold() != license.product.casefold():
            reason, features = Reason.PRODUCT_MISMATCH, []
        elif license.revoked:
            reason, features = Reason.LICENSE_REVOKED, []
        elif hwid not in license.devices:
            reason, features = Reason.NOT_ACTIVATED, []
        elif expiry is not None and _grace_end(license) <= now:
            reason = Reason.LICENSE_EXPIRED
        elif version and product.minimum_version and _older(str(version), product.minimum_version):
            reason = Reason.VERSION_OUTDATED
        else:
            reason = Reason.LICENSED
            if expiry is not None and expiry <= now:
                extra["graceUntil"] = format_datetime(_grace_end(license))
        if license.check_in_days:
            extra["checkInDays"] = license.check_in_days
        return 200, _validation(reason, expiry, features, **extra)

    def _trial(self, product_name: str, hwid: str, now: datetime) -> dict[str, Any]:
        if not product_name:
            return _validation(Reason.PRODUCT_NAME_REQUIRED, None)
        product = self.products.get(product_name.casefold())
        if product is None:
            return _validation(Reason.PRODUCT_NOT_FOUND, None)
        if product.trial_days <= 0:
            return _validation(Reason.TRIAL_NOT_AVAILABLE, None)
        started = product.trials.setdefault(hwid, now)
        ends = started + timedelta(days=product.trial_days)
        if now >= ends:
            return _validation(Reason.TRIAL_EXPIRED, ends, remainingDays=0)
        return _validation(Reason.TRIAL_ACTIVE, ends, remainingDays=max(0, (ends - now).days))

    def _activate(self, data: dict[str, Any]) -> tuple[int, Any]:
        key = str(data.get("activationKey") or "").strip()
        hwid = str(data.get("hardwareId") or "").strip().upper()
        license = self.licenses.get(key)
        if license is None:
            return 404, _error(ErrorCode.LICENSE_NOT_FOUND, "Unknown activation key.")
        product = self.products[license.product.casefold()]
        if str(data.get("productName") or "").strip().casefold() != license.product.casefold():
            return 409, _error(ErrorCode.PRODUCT_MISMATCH, "This key belongs to another product.")
        if license.revoked:
            return 409, _error(ErrorCode.LICENSE_REVOKED, "This license has been revoked.")
        if license.expires is not None and license.expires <= self.clock():
            return 409, _error(ErrorCode.LICENSE_EXPIRED, "This license has expired.")
        version = data.get("version")
        if version and product.minimum_version and _older(str(version), product.minimum_version):
            return 409, _error(ErrorCode.VERSION_OUTDATED, "Please update the application.")
        already = hwid in license.devices
        if not already and len(license.devices) >= license.max_seats:
            code = (
                ErrorCode.LICENSE_IN_USE if license.max_seats == 1 else ErrorCode.SEAT_LIMIT_REACHED
            )
            return 409, _error(code, "No free seat for this device.")
        license.devices.add(hwid)
        return 200, {
            "success": True,
            "message": "Already activated on this device." if already else "Activated.",
            "activationKey": key,
            "hardwareId": hwid,
            "productName": license.product,
            "expirationDate": format_datetime(license.expires or PERPETUAL),
            "features": license.features,
            "isCorporate": license.max_seats > 1,
            "currentSeats": len(license.devices),
            "maxSeats": license.max_seats if license.max_seats > 1 else None,
            "alreadyActivated": already,
            "serverVersion": product.version,
            "minimumRequiredVersion": product.minimum_version,
        }

    def _deactivate(self, data: dict[str, Any]) -> tuple[int, Any]:
        key = str(data.get("licenseKey") or data.get("activationKey") or "").strip()
        hwid = str(data.get("hardwareId") or "").strip().upper()
        license = self.licenses.get(key)
        if license is None:
            return 404, _error(ErrorCode.LICENSE_NOT_FOUND, "Unknown activation key.")
        was_active = hwid in license.devices
        license.devices.discard(hwid)
        return 200, {
            "success": True,
            "message": "Deactivated." if was_active else "This device was not activated.",
            "wasActive": was_active,
            "currentSeats": len(license.devices),
        }

    def _features(self, data: dict[str, Any]) -> tuple[int, Any]:
        license = self.licenses.get(str(data.get("activationKey") or "").strip())
        if license is None:
            return 404, _error(ErrorCode.LICENSE_NOT_FOUND, "Unknown activation key.")
        return 200, {"features": ",".join(license.features)}

    # -- floating seats ------------------------------------------------------------------------

    def _lease_key(self) -> KeyPair:
        if self.key_pair is None:  # lease tokens are always signed: a key of its own
            self.key_pair = KeyPair.generate()
            self.sign_answers = False
        return self.key_pair

    def _lease_refusal(self, license: FakeLicense, data: dict[str, Any]) -> tuple[int, Any] | None:
        product = self.products[license.product.casefold()]
        if str(data.get("productName") or "").strip().casefold() != license.product.casefold():
            return 409, _error(ErrorCode.PRODUCT_MISMATCH, "This key belongs to another product.")
        if license.revoked:
            return 409, _error(ErrorCode.LICENSE_REVOKED, "This license has been revoked.")
        if license.suspended:
            return 409, _error(ErrorCode.LICENSE_SUSPENDED, "This license is suspended.")
        if license.expires is not None and _grace_end(license) <= self.clock():
            return 409, _error(ErrorCode.LICENSE_EXPIRED, "This license has expired.")
        version = data.get("version")
        if version and product.minimum_version and _older(str(version), product.minimum_version):
            return 409, _error(ErrorCode.VERSION_OUTDATED, "Please update the application.")
        if not license.floating:
            return 409, _error(ErrorCode.NOT_FLOATING, "This license has no floating seats.")
        return None

    def _lease(self, data: dict[str, Any]) -> tuple[int, Any]:
        key = str(data.get("activationKey") or "").strip()
        hwid = str(data.get("hardwareId") or "").strip().upper()
        license = self.licenses.get(key)
        if not hwid:
            return 400, _error(ErrorCode.INVALID_REQUEST, "hardwareId is required.")
        if license is None:
            return 404, _error(ErrorCode.LICENSE_NOT_FOUND, "Unknown activation key.")
        refusal = self._lease_refusal(license, data)
        if refusal is not None:
            return refusal
        ttl = license.default_ttl_seconds
        borrowed = "borrowHours" in data and data["borrowHours"] is not None
        if borrowed:
            hours = _whole(data["borrowHours"])
            if hours is None or not 1 <= hours <= license.max_borrow_hours:
                return 400, _error(
                    ErrorCode.INVALID_REQUEST,
                    f"borrowHours must be 1 to {license.max_borrow_hours}.",
                )
            ttl = hours * 3600
        elif data.get("ttlSeconds") is not None:
            asked = _whole(data["ttlSeconds"])
            if asked is None or not license.min_ttl_seconds <= asked <= license.max_ttl_seconds:
                return 400, _error(
                    ErrorCode.INVALID_REQUEST,
                    f"ttlSeconds must be {license.min_ttl_seconds} to {license.max_ttl_seconds}.",
                )
            ttl = asked
        now = self.clock()
        live = self.live_leases(key)
        lease = next((held for held in live if held.hardware_id == hwid), None)
        if lease is None:
            if len(live) >= license.max_seats:
                first = min(held.expires_at for held in live)
                return 409, _error(
                    ErrorCode.NO_FREE_SEAT,
                    "Every floating seat is in use.",
                    seatsInUse=len(live),
                    maxSeats=license.max_seats,
                    nextFreeAt=format_datetime(first),
                )
            lease_id = "lease_" + secrets.token_hex(8)
            lease = FakeLease(lease_id, key, hwid, license.product, now, ttl)
            self.leases[lease_id] = lease
            live.append(lease)
        lease.ttl_seconds, lease.borrowed = ttl, borrowed
        lease.expires_at = now + timedelta(seconds=ttl)
        return 200, {
            **self._lease_answer(lease, license, len(live)),
            "features": license.features,
            "borrowed": borrowed,
        }

    def _lease_answer(self, lease: FakeLease, license: FakeLicense, in_use: int) -> dict[str, Any]:
        from .._lease_token import issue_lease_token

        token = issue_lease_token(
            lease_id=lease.lease_id,
            tenant_id=1,
            activation_key=lease.key,
            hardware_id=lease.hardware_id,
            product_name=license.product,
            features=license.features,
            issued_at=self.clock(),
            expires_at=lease.expires_at,
            borrowed=lease.borrowed,
            private_key=self._lease_key().private_key,
        )
        return {
            "leaseId": lease.lease_id,
            "expiresAt": format_datetime(lease.expires_at),
            "leaseToken": token,
            "seatsInUse": in_use,
            "maxSeats": license.max_seats,
            "ttlSeconds": lease.ttl_seconds,
        }

    def _heartbeat(self, data: dict[str, Any]) -> tuple[int, Any]:
        lease = self.leases.get(str(data.get("leaseId") or ""))
        if lease is None:
            return 404, _error(ErrorCode.LEASE_NOT_FOUND, "No such lease.")
        license = self.licenses[lease.key]
        now = self.clock()
        if lease.expires_at <= now:
            return 410, _error(ErrorCode.LEASE_EXPIRED, "The lease ran out; check out again.")
        if license.revoked or license.suspended:
            del self.leases[lease.lease_id]
            code = ErrorCode.LICENSE_REVOKED if license.revoked else ErrorCode.LICENSE_SUSPENDED
            return 409, _error(code, "The license no longer allows this lease.")
        lease.expires_at = now + timedelta(seconds=lease.ttl_seconds)
        lease.heartbeats += 1
        return 200, self._lease_answer(lease, license, len(self.live_leases(lease.key)))

    def _release(self, data: dict[str, Any]) -> tuple[int, Any]:
        lease_id = str(data.get("leaseId") or "")
        if self.leases.pop(lease_id, None) is None:
            return 404, _error(ErrorCode.LEASE_NOT_FOUND, "No such lease.")
        return 200, {"success": True, "leaseId": lease_id}

    def _usage(self, key: str) -> tuple[int, Any]:
        license = self.licenses.get(key)
        if license is None:
            return 404, _error(ErrorCode.LICENSE_NOT_FOUND, "Unknown activation key.")
        if license.max_seats <= 1:
            return 404, _error(
                ErrorCode.NOT_CORPORATE, "This is not a corporate (multi-seat) license."
            )
        seats = len(license.devices)
        return 200, {
            "currentSeats": seats,
            "maxSeats": license.max_seats,
            "hasCapacity": seats < license.max_seats,
            "isUnlimited": False,
        }


def _grace_end(license: FakeLicense) -> datetime:
    assert license.expires is not None
    return license.expires + timedelta(days=license.grace_days)


def _validation(
    reason: Reason, expires: datetime | None, features: Sequence[str] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "isValid": reason.is_valid,
        "status": reason.status,
        "expirationDate": format_datetime(expires or PERPETUAL),
        "features": list(features),
        "reason": reason,
        **extra,
    }


def _error(code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _older(version: str, minimum: str) -> bool:
    def parts(text: str) -> list[int]:
        return [int(p) if p.isdigit() else 0 for p in text.strip().split(".")]

    return parts(version) < parts(minimum)
