"""The I/O-free core shared by ExisOneClient and AsyncExisOneClient.

It owns the settings and turns each SDK method into a :class:`Call` (method, path, JSON body,
idempotency, and the parser of the answer), builds URLs and headers, and decides retries.
The two clients only send calls and sleep, so they behave identically.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar
from urllib.parse import quote

from . import _lease_calls as _lease
from . import _parsing as parse
from . import _retry, _smart
from .__version__ import __version__
from ._constants import (
    AUTH_SCHEME,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
)
from ._dates import utc_now
from ._exceptions import (
    AnswerSignatureError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidResponseError,
    TransportError,
)
from ._guard import Guard, GuardSettings
from ._models import (
    ActivationResult,
    ApiUsage,
    BorrowedLease,
    ConsumeResult,
    GeneratedActivationKey,
    LeaseCheck,
    LeaseGrant,
    OfflineValidationResult,
    SeatUsage,
    SmartValidationResult,
    ValidationResult,
)
from ._offline_check import VerifiedCodes, check_offline_code
from ._options import (
    ExisOneClientOptions,
    TimeoutTypes,
    check_access_token,
    resolve_base_url,
    resolve_timeout,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from ._lease_token import LeasePublicKey
    from ._state import OutboxEntry

__all__: list[str] = []

T = TypeVar("T")
logger = logging.getLogger("exisone")

USER_AGENT = (
    f"exisone-python/{__version__} (+httpx; Python {platform.python_version_tuple()[0]}."
    f"{platform.python_version_tuple()[1]})"
)


class NotGiven:
    """Marks a keyword that was not passed (distinct from ``None``)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP exchange of an SDK method, and how to read its answer."""

    name: str
    method: str
    path: str
    payload: dict[str, Any] | None
    idempotent: bool
    parse: Callable[[parse.Reply], T]
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (the signed-answer nonce)."""

    @property
    def body(self) -> bytes | None:
        if self.payload is None:
            return None
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Settings:
    """Checked, immutable client settings."""

    base_url: str
    access_token: str
    public_keys: tuple[RSAPublicKey, ...] | None
    """The trusted RSA keys (offline codes, signed answers, sealed requests)."""
    lease_keys: tuple[LeasePublicKey, ...] | None
    """Every trusted key, Ed25519 ones too (lease tokens)."""
    hardware_id_override: str | None
    timeout: tuple[float | None, float | None]
    allowed_hosts: tuple[str, ...] | None
    max_retries: int
    guard: GuardSettings = field(default_factory=GuardSettings)


def build_settings(
    options: ExisOneClientOptions | None,
    *,
    base_url: str | None,
    access_token: str | None,
    offline_public_key: Any,
    hardware_id_override: str | None,
    timeout: TimeoutTypes | NotGiven,
    allowed_base_url_hosts: Sequence[str] | None,
    max_retries: int,
    guard: GuardSettings | None = None,
) -> Settings:
    """Merge ``options`` (the official dataclass) or the keywords into :class:`Settings`."""
    keywords = {
        "base_url": base_url,
        "access_token": access_token,
        "offline_public_key": offline_public_key,
        "hardware_id_override": hardware_id_override,
        "allowed_base_url_hosts": allowed_base_url_hosts,
    }
    if options is not None:
        given = [name for name, value in keywords.items() if value is not None]
        if not isinstance(timeout, NotGiven):
            given.append("timeout")
        if given:
            raise TypeError(f"pass either options or {', '.join(given)}, not both")
        if not isinstance(options, ExisOneClientOptions):
            raise TypeError("options must be an ExisOneClientOptions")
        base_url, access_token = options.base_url, options.access_token
        offline_public_key = options.offline_public_key
        hardware_id_override = options.hardware_id_override
        allowed_base_url_hosts = options.allowed_base_url_hosts
        timeout = options.timeout
    if isinstance(timeout, NotGiven):
        timeout = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    hosts = tuple(allowed_base_url_hosts) if allowed_base_url_hosts else None
    keys = lease_keys = None
    if offline_public_key:
        from ._offline import load_trusted_keys

        trusted = load_trusted_keys(offline_public_key)
        keys, lease_keys = trusted.rsa_keys or None, trusted.lease_keys
    if guard is not None and guard.require_signed_answers is True and not keys:
        raise ConfigurationError(
            "require_signed_answers needs offline_public_key (trusted RSA keys)"
        )
    return Settings(
        base_url=resolve_base_url(base_url, hosts),
        access_token=check_access_token(access_token),
        public_keys=keys,
        lease_keys=lease_keys,
        hardware_id_override=hardware_id_override,
        timeout=resolve_timeout(timeout),
        allowed_hosts=hosts,
        max_retries=max_retries,
        guard=guard or GuardSettings(),
    )


class ClientCore:
    """Everything of a client that does no I/O."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = Guard(settings.guard, settings.base_url, settings.public_keys)
        self.verified_codes = VerifiedCodes()  # for settings.public_keys, which never change

    # -- configuration -------------------------------------------------------------------------

    def with_base_url(self, base_url: str) -> ClientCore:
        url = resolve_base_url(base_url, self.settings.allowed_hosts)
        return ClientCore(replace(self.settings, base_url=url))

    @property
    def headers(self) -> dict[str, str]:
        """Headers of every request. No Authorization header without a token."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.settings.access_token:
            headers["Authorization"] = f"{AUTH_SCHEME} {self.settings.access_token}"
        return headers

    def url(self, path: str) -> str:
        """Base URL (its path prefix kept) + absolute API path."""
        return self.settings.base_url + path

    def request_headers(self, call: Call[Any]) -> dict[str, str]:
        headers = {"Content-Type": "application/json"} if call.payload is not None else {}
        headers.update(call.headers)
        return headers

    # -- retries -------------------------------------------------------------------------------

    def delay_after_reply(
        self, call: Call[Any], reply: parse.Reply, retries_done: int, rand: float, max_retries: int
    ) -> float | None:
        """Seconds to wait before repeating ``call`` after ``reply``; ``None`` = use the reply."""
        if retries_done >= max_retries:
            return None
        if not _retry.is_retryable_status(reply.status_code, call.idempotent):
            return None
        delay = _retry.retry_delay_for_status(retries_done, reply.headers, rand, utc_now())
        logger.debug("%s: HTTP %s, retry in %s s", call.name, reply.status_code, delay)
        return delay

    def delay_after_error(
        self,
        call: Call[Any],
        error: TransportError,
        retries_done: int,
        rand: float,
        max_retries: int,
    ) -> float | None:
        """Seconds to wait before repeating ``call`` after ``error``; ``None`` = raise it."""
        if retries_done >= max_retries or not _retry.is_retryable_error(error, call.idempotent):
            return None
        delay = _retry.backoff_delay(retries_done, rand)
        logger.debug("%s: %s, retry in %.2f s", call.name, type(error).__name__, delay)
        return delay

    # -- calls ---------------------------------------------------------------------------------

    def activate(
        self,
        activation_key: str,
        email: str,
        hardware_id: str,
        product_name: str,
        version: str | None,
    ) -> Call[ActivationResult]:
        payload = {
            "activationKey": activation_key,
            "email": email,
            "hardwareId": hardware_id,
            "productName": product_name,
        }
        if version:
            payload["version"] = version
        # Idempotent: the server binds a key to a hardware ID once; repeating it for the same
        # hardware ID answers the same and consumes no second seat.
        call = Call(
            "activate", "POST", "/api/license/activate", payload, True, parse.activation_result
        )
        return self.guard.signed(call, lambda _answer, _result: None)

    def validate(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str | None,
        version: str | None,
    ) -> Call[ValidationResult]:
        payload = {"activationKey": activation_key, "hardwareId": hardware_id}
        if product_name:
            payload["productName"] = product_name
        if version:
            payload["version"] = version
        call = Call(
            "validate",
            "POST",
            "/api/license/validate",
            payload,
            True,
            lambda reply: parse.validation_result(_ok_object(reply)),
        )
        return self.guard.signed(
            call, lambda answer, result: self.guard.remember(answer, result.is_valid)
        )

    def offline_sync(
        self,
        offline_code: str,
        hardware_id: str,
        product_name: str | None,
        version: str | None,
    ) -> Call[ValidationResult]:
        """validate_smart's background check of a valid offline code: the server's answer is
        kept (the code withdrawn on this machine, or accepted again)."""
        call = self.validate(offline_code, hardware_id, product_name, version)
        withdrawn = self.guard.withdrawn_codes()

        def parse_and_keep(reply: parse.Reply) -> ValidationResult:
            result = call.parse(reply)
            withdrawn.note(offline_code, hardware_id, str(result.status), self.guard.now())
            return result

        return replace(call, parse=parse_and_keep)

    def smart_offline(
        self, offline_code: str, hardware_id: str, result: OfflineValidationResult
    ) -> SmartValidationResult:
        """validate_smart's answer for an offline code checked locally: refused when the server
        withdrew it on this machine (see :meth:`offline_sync`)."""
        if result.is_valid:
            status = self.guard.withdrawn_codes().status(offline_code, hardware_id)
            if status is not None:
                return _smart.withdrawn(result, status)
            if self.check_in_due(offline_code, hardware_id, result):
                return _smart.check_in_required(result)
        return _smart.from_offline(result)

    def check_in_due(
        self, offline_code: str, hardware_id: str, result: OfflineValidationResult
    ) -> bool:
        """A valid code with ``checkInDays`` not confirmed online (or issued) that recently."""
        days = result.check_in_days
        if not result.is_valid or days is None:
            return False
        seen = [result.issued_at, self.guard.withdrawn_codes().confirmed(offline_code, hardware_id)]
        last = max((moment for moment in seen if moment is not None), default=None)
        return last is None or self.guard.now() >= last + timedelta(days=days)

    def validate_encrypted(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str | None,
        version: str | None,
    ) -> Call[ValidationResult]:
        """validate's body sealed for the tenant's key (the first of ``offline_public_key``);
        the answer must open with the request's fresh key (docs/encrypted-validation.md)."""
        from ._sealed import SealedPayloadError, open_answer, seal_request

        if not self.settings.public_keys:
            raise ConfigurationError(
                "validate_encrypted needs the tenant's RSA public key in offline_public_key"
            )
        body: dict[str, str] = {"activationKey": activation_key, "hardwareId": hardware_id}
        if product_name:
            body["productName"] = product_name
        if version:
            body["version"] = version
        plaintext = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        sealed, key = seal_request(self.settings.public_keys[0], plaintext)

        def read(reply: parse.Reply) -> ValidationResult:
            text = _ok_object(reply).get("payload")
            try:
                if not isinstance(text, str):
                    raise SealedPayloadError()
                answer = open_answer(key, sealed, base64.b64decode(text, validate=True))
                data = json.loads(answer.decode("utf-8"))
            except (SealedPayloadError, binascii.Error, ValueError):
                raise AnswerSignatureError(
                    "the sealed answer does not open with this request's key: "
                    "forged, altered, or not the answer to this request"
                ) from None
            if not isinstance(data, dict):
                raise InvalidResponseError("the sealed answer is not a JSON object")
            return parse.validation_result(data)

        payload = {"payload": base64.b64encode(sealed).decode("ascii")}
        return Call(
            "validate_encrypted", "POST", "/api/license/validate-encrypted", payload, True, read
        )

    def deactivate(self, activation_key: str, hardware_id: str, product_name: str) -> Call[bool]:
        payload = {
            "licenseKey": activation_key,
            "hardwareId": hardware_id,
            "productName": product_name,
        }
        call = Call("deactivate", "POST", "/api/license/deactivate", payload, True, _ok_true)
        return self.guard.signed(call, lambda _answer, _result: None)

    def generate_activation_key(
        self,
        product_name: str,
        email: str,
        plan_id: int | None,
        validity_days: int | None,
    ) -> Call[GeneratedActivationKey]:
        payload: dict[str, Any] = {"productName": product_name, "email": email}
        if plan_id is not None:
            payload["planId"] = plan_id
        if validity_days is not None:
            payload["validityDays"] = validity_days
        return Call(
            "generate_activation_key",
            "POST",
            "/api/activationkey/generate",
            payload,
            False,
            lambda reply: parse.generated_key(_ok_object(reply)),
        )

    def licensed_features_csv(self, activation_key: str) -> Call[str]:
        return Call(
            "get_licensed_features",
            "POST",
            "/api/license/features/csv",
            {"activationKey": activation_key},
            True,
            lambda reply: parse.features_csv(_ok_object(reply)),
        )

    def send_support_ticket(
        self, product_name: str, email: str, subject: str, message: str
    ) -> Call[None]:
        payload = {
            "productName": product_name,
            "email": email,
            "subject": subject,
            "message": message,
        }
        return Call("send_support_ticket", "POST", "/api/support/ticket", payload, False, _ok_none)

    def seat_usage(self, activation_key: str) -> Call[SeatUsage]:
        _require_key(activation_key)
        path = f"/api/license/{quote(activation_key, safe='')}/usage"
        return Call(
            "get_seat_usage",
            "GET",
            path,
            None,
            True,
            lambda reply: parse.seat_usage(_ok_object(reply)),
        )

    # -- API keys (docs/api-keys.md) ---------------------------------------------------------

    def consume(self, activation_key: str, amount: int) -> Call[ConsumeResult]:
        _require_key(activation_key)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise InvalidArgumentError(f"amount must be a whole number >= 1, got {amount!r}")
        # Not idempotent: a repeat after a lost answer would spend the calls twice.
        return Call(
            "consume",
            "POST",
            "/api/license/consume",
            {"activationKey": activation_key, "amount": amount},
            False,
            lambda reply: parse.consume_result(_ok_object(reply)),
        )

    def api_usage(self, activation_key: str, days: int) -> Call[ApiUsage]:
        _require_key(activation_key)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise InvalidArgumentError(f"days must be 1 to 366, got {days!r}")
        path = f"/api/license/{quote(activation_key, safe='')}/quota?days={days}"
        return Call(
            "get_usage",
            "GET",
            path,
            None,
            True,
            lambda reply: parse.api_usage(_ok_object(reply)),
        )

    # -- floating seats (see _lease_calls) ---------------------------------------------------

    def lease_checkout(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str,
        version: str | None,
        ttl_seconds: int | None,
        borrow_hours: int | None = None,
    ) -> tuple[dict[str, Any], Call[LeaseGrant]]:
        """The checkout's payload (checked) and its call; the token verifies with the trusted
        keys, when the client has them and checks answers."""
        payload = _lease.checkout_payload(
            activation_key, hardware_id, product_name, version, ttl_seconds, borrow_hours
        )
        name = "borrow" if borrow_hours is not None else "lease"
        return payload, _lease.checkout(payload, self._lease_keys(), name)

    def lease_heartbeat(self, lease_id: str, features: tuple[str, ...]) -> Call[LeaseGrant]:
        return _lease.heartbeat(lease_id, features, self._lease_keys())

    def lease_release(self, lease_id: str) -> Call[bool]:
        return _lease.release(lease_id)

    def _lease_keys(self) -> tuple[LeasePublicKey, ...] | None:
        """The keys a lease token must verify with: None when answers are not checked."""
        return self.settings.lease_keys if self.settings.guard.verify_answers else None

    def borrowed(self, payload: dict[str, Any], grant: LeaseGrant) -> BorrowedLease:
        """Keep a borrowed lease's token for the offline checks; the result to return."""
        result = _lease.borrowed(grant, payload)
        self.guard.borrowed_leases().save(
            result.hardware_id, result.product_name, grant.lease_id, grant.lease_token
        )
        return result

    def borrowed_release(self, hardware_id: str, product_name: str) -> Call[bool] | None:
        """The release of the lease borrowed for this machine and product; None if none."""
        lease_id = self.guard.borrowed_leases().lease_id(hardware_id, product_name)
        return self.lease_release(lease_id) if lease_id else None

    def borrowed_returned(self, hardware_id: str, product_name: str) -> None:
        self.guard.borrowed_leases().remove(hardware_id, product_name)

    def validate_lease_offline(
        self, token: str | None, hardware_id: str, product_name: str, now: datetime | None
    ) -> LeaseCheck:
        return _lease.check_offline(
            self.guard, self.settings.lease_keys, token, hardware_id, product_name, now
        )

    # -- resilience (see _guard) ---------------------------------------------------------------

    def unreachable(
        self, activation_key: str, hardware_id: str, product_name: str | None, error: Exception
    ) -> SmartValidationResult:
        """validate_smart of an online key without a trustworthy answer: grace, or offline."""
        graced = self.guard.unreachable(activation_key, hardware_id, product_name, error)
        if graced is not None:
            return graced
        result = _smart.when_unreachable(activation_key, hardware_id, product_name, error)
        if isinstance(error, AnswerSignatureError):
            result.error_message = f"The server's answer was rejected: {error}"
        return result

    def outbox_calls(self) -> list[tuple[OutboxEntry, Call[bool]]]:
        """The queued deactivations of this server, as calls."""
        return [
            (entry, self.deactivate(entry.license_key, entry.hardware_id, entry.product_name))
            for entry in self.guard.pending_deactivations()
        ]

    # -- local ---------------------------------------------------------------------------------

    def hardware_id(self, mode: str) -> str:
        override = self.settings.hardware_id_override
        if override and override.strip():
            return override.strip()
        from ._hwid import generate_hardware_id

        return generate_hardware_id(mode)

    def validate_offline(
        self,
        offline_code: str,
        hardware_id: str,
        product_name: str | None,
        now: datetime | None,
    ) -> OfflineValidationResult:
        moment = now if now is not None else self.guard.now()
        result = check_offline_code(
            offline_code,
            hardware_id,
            self.settings.public_keys,
            product_name=product_name,
            now=moment,
            verified=self.verified_codes,
        )
        # An explicit ``now`` asks about another moment; the clock check is about this one.
        return result if now is not None else self.guard.check_offline_clock(result, moment)


def _require_key(activation_key: str) -> None:
    if not activation_key or not activation_key.strip():
        raise InvalidArgumentError("activation_key is required")


def _ok_object(reply: parse.Reply) -> dict[str, Any]:
    parse.raise_for_status(reply, utc_now())
    return parse.read_object(reply)


def _ok_true(reply: parse.Reply) -> bool:
    parse.raise_for_status(reply, utc_now())
    return True


def _ok_none(reply: parse.Reply) -> None:
    parse.raise_for_status(reply, utc_now())
