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

__all__ = ["FakeExisOneServer", "FakeLicense", "FakeProduct"]

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
        self.licenses[key] = license
        return license

    def revoke(self, key: str) -> None:
        self.licenses[key].revoked = True

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
        extra = {"serverVersion": product.version, "productName": license.product}
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
        elif expiry is not None and expiry <= now:
            reason = Reason.LICENSE_EXPIRED
        elif version and product.minimum_version and _older(str(version), product.minimum_version):
            reason = Reason.VERSION_OUTDATED
        else:
            reason = Reason.LICENSED
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


def _error(code: ErrorCode, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def _older(version: str, minimum: str) -> bool:
    def parts(text: str) -> list[int]:
        return [int(p) if p.isdigit() else 0 for p in text.strip().split(".")]

    return parts(version) < parts(minimum)
