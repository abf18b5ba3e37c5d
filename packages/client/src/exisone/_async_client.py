"""AsyncExisOneClient: the asyncio twin of ExisOneClient, over the same core."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import httpx

from . import _constants
from . import _parsing as parse
from . import _smart as smart
from .__version__ import __version__
from ._constants import DEFAULT_MAX_RETRIES
from ._core import NOT_GIVEN, Call, ClientCore, NotGiven, build_settings
from ._exceptions import (
    AnswerSignatureError,
    APIError,
    ClientClosedError,
    InvalidResponseError,
    NotFoundError,
    TransportError,
)
from ._guard import DEFAULT_CLOCK_TOLERANCE, DEFAULT_GRACE_PERIOD, guard_settings
from ._http import SYNC_TIMEOUT, VerifyTypes, httpx_timeout, map_httpx_exceptions, ssl_verify
from ._models import (
    ActivationResult,
    ApiUsage,
    BorrowedLease,
    ConsumeResult,
    DeactivationResult,
    GeneratedActivationKey,
    LeaseCheck,
    LeaseLostReason,
    OfflineValidationResult,
    SeatUsage,
    SmartValidationResult,
    ValidationResult,
    ValidationStatus,
)
from ._options import ExisOneClientOptions, TimeoutTypes
from ._state._store import StateDirOption

if TYPE_CHECKING:
    from ._async_lease import AsyncLease

__all__ = ["AsyncExisOneClient"]

T = TypeVar("T")
logger = logging.getLogger("exisone")


class AsyncExisOneClient:
    """Asyncio client of an ExisOne (or compatible) license server; same API as ExisOneClient.

    Pass the official ``ExisOneClientOptions`` as first argument, or keywords. What raises:
    :class:`ConfigurationError` at construction; :class:`TransportError` (server unreachable),
    :class:`APIError` (error status) and :class:`InvalidResponseError` from the online calls,
    except ``activate`` (always a result) and the ``*_smart`` methods (see their docstrings).
    License-level outcomes (invalid, expired, trial, version_outdated) are results.
    """

    def __init__(
        self,
        options: ExisOneClientOptions | None = None,
        *,
        base_url: str | None = None,
        access_token: str | None = None,
        offline_public_key: str | Sequence[str] | None = None,
        hardware_id_override: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        allowed_base_url_hosts: Sequence[str] | None = None,
        verify: VerifyTypes = True,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        verify_answers: bool = True,
        require_signed_answers: bool | None = None,
        state_dir: StateDirOption = None,
        use_keyring: bool = False,
        grace_period: timedelta = DEFAULT_GRACE_PERIOD,
        clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        guard = guard_settings(
            verify_answers=verify_answers,
            require_signed_answers=require_signed_answers,
            state_dir=state_dir,
            use_keyring=use_keyring,
            grace_period=grace_period,
            clock_tolerance=clock_tolerance,
            clock=clock,
        )
        settings = build_settings(
            options,
            base_url=base_url,
            access_token=access_token,
            offline_public_key=offline_public_key,
            hardware_id_override=hardware_id_override,
            timeout=timeout,
            allowed_base_url_hosts=allowed_base_url_hosts,
            max_retries=max_retries,
            guard=guard,
        )
        self._setup(ClientCore(settings), verify, transport)

    def _setup(
        self, core: ClientCore, verify: VerifyTypes, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._core = core
        self._verify = verify
        self._transport = transport
        self._http = httpx.AsyncClient(
            headers=core.headers,
            timeout=httpx_timeout(core.settings.timeout),
            verify=ssl_verify(verify),
            transport=transport,
            follow_redirects=False,
        )
        self._closed = False
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._background: set[asyncio.Task[None]] = set()
        self._random: Callable[[], float] = random.random

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self._core.settings.base_url!r}>"

    # -- lifecycle -----------------------------------------------------------------------------

    def with_base_url(self, base_url: str) -> AsyncExisOneClient:
        """A NEW client with the same settings and another base URL (this one is unchanged)."""
        clone = type(self).__new__(type(self))
        clone._setup(self._core.with_base_url(base_url), self._verify, self._transport)
        return clone

    async def aclose(self) -> None:
        """Let background syncs finish (at most 5 s in all), cancel the rest, close the
        connections. Later calls raise :class:`ClientClosedError`."""
        if self._closed:
            return
        tasks = list(self._background)
        if tasks:
            await asyncio.wait(tasks, timeout=_constants.SMART_SYNC_TIMEOUT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._closed = True
        await self._http.aclose()

    async def __aenter__(self) -> AsyncExisOneClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- sending -------------------------------------------------------------------------------

    async def _send(
        self,
        call: Call[T],
        *,
        timeout: httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> T:
        if self._closed:
            raise ClientClosedError(f"this {type(self).__name__} is closed")
        retries = self._core.settings.max_retries if max_retries is None else max_retries
        url, headers, body = self._core.url(call.path), self._core.request_headers(call), call.body
        retries_done = 0
        while True:
            try:
                with map_httpx_exceptions():
                    reply = await self._http.request(
                        call.method,
                        url,
                        content=body,
                        headers=headers,
                        timeout=timeout or httpx.USE_CLIENT_DEFAULT,
                    )
            except TransportError as error:
                delay = self._core.delay_after_error(
                    call, error, retries_done, self._random(), retries
                )
                if delay is None:
                    raise
            else:
                delay = self._core.delay_after_reply(
                    call, reply, retries_done, self._random(), retries
                )
                if delay is None:
                    return call.parse(reply)
            await self._sleep(delay)
            retries_done += 1

    # -- the API -------------------------------------------------------------------------------

    @staticmethod
    def get_version() -> str:
        """The SDK version."""
        return __version__

    def generate_hardware_id(self, mode: str = "stable") -> str:
        """``hardware_id_override`` (trimmed) if set, else this machine's fingerprint.

        ``mode="legacy"`` gives exisone-client 0.10.0's ID, for existing activations.
        """
        return self._core.hardware_id(mode)

    async def activate(
        self,
        activation_key: str,
        email: str,
        hardware_id: str,
        product_name: str,
        version: str | None = None,
    ) -> ActivationResult:
        """Bind the license to ``hardware_id``. Never raises for a refusal or an unreachable
        server: see ``success``, ``error_code`` (``network_error`` when unreachable) and
        ``error_message``."""
        call = self._core.activate(activation_key, email, hardware_id, product_name, version)
        try:
            result = await self._send(call)
        except TransportError as error:
            return parse.activation_network_error(error)
        if result.success:
            self._core.guard.activated(activation_key, hardware_id)
            await self._flush_quietly()
        return result

    async def validate(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str | None = None,
        version: str | None = None,
    ) -> ValidationResult:
        """Check the license online. A blank key with ``product_name`` is a trial check.

        Raises TransportError, APIError (401/403 token, 400...), InvalidResponseError.
        """
        return await self._send(
            self._core.validate(activation_key, hardware_id, product_name, version)
        )

    async def validate_encrypted(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str | None = None,
        version: str | None = None,
    ) -> ValidationResult:
        """:meth:`validate`, the request sealed for the tenant's public key (the first of
        ``offline_public_key``) and the answer sealed with a fresh key only this request knows
        (docs/encrypted-validation.md). An answer that does not open raises
        AnswerSignatureError; otherwise it raises as :meth:`validate`.
        """
        call = self._core.validate_encrypted(activation_key, hardware_id, product_name, version)
        return await self._send(call)

    async def deactivate(self, activation_key: str, hardware_id: str, product_name: str) -> bool:
        """Release the license (or corporate seat) of ``hardware_id``; True, or raises."""
        return await self._send(self._core.deactivate(activation_key, hardware_id, product_name))

    async def generate_activation_key(
        self,
        product_name: str,
        email: str,
        plan_id: int | None = None,
        validity_days: int | None = None,
    ) -> str:
        """Create a license and return its key (token needs ``generate``). Never retried."""
        details = await self.generate_activation_key_details(
            product_name, email, plan_id, validity_days
        )
        return details.activation_key

    async def generate_activation_key_details(
        self,
        product_name: str,
        email: str,
        plan_id: int | None = None,
        validity_days: int | None = None,
    ) -> GeneratedActivationKey:
        """Like :meth:`generate_activation_key`, with the server's whole answer."""
        call = self._core.generate_activation_key(product_name, email, plan_id, validity_days)
        return await self._send(call)

    async def get_licensed_features_csv(self, activation_key: str) -> str:
        """The license's features as the server's comma-separated string."""
        return await self._send(self._core.licensed_features_csv(activation_key))

    async def get_licensed_features(self, activation_key: str) -> list[str]:
        """The license's features as a list of trimmed names."""
        return parse.features_list(await self.get_licensed_features_csv(activation_key))

    async def send_support_ticket(
        self, product_name: str, email: str, subject: str, message: str
    ) -> None:
        """Send a support ticket (token needs ``email``). Never retried."""
        await self._send(self._core.send_support_ticket(product_name, email, subject, message))

    async def get_seat_usage(self, activation_key: str) -> SeatUsage:
        """Seat usage of a corporate license; NotFoundError for a single-device license."""
        return await self._send(self._core.seat_usage(activation_key))

    async def consume(self, activation_key: str, amount: int = 1) -> ConsumeResult:
        """Spend ``amount`` calls of an API key (token needs ``verify``): all or none, see
        ``allowed`` and ``reason``. Never retried (a repeat could spend twice).

        Raises NotFoundError for an unknown key, BadRequestError for a bad amount.
        """
        return await self._send(self._core.consume(activation_key, amount))

    async def get_usage(self, activation_key: str, days: int = 30) -> ApiUsage:
        """An API key's quota, its calls this minute and per UTC day for the last ``days``."""
        return await self._send(self._core.api_usage(activation_key, days))

    def validate_offline(
        self,
        offline_code: str,
        hardware_id: str,
        *,
        product_name: str | None = None,
        now: datetime | None = None,
    ) -> OfflineValidationResult:
        """Check a signed offline code locally (no network). Never raises."""
        return self._core.validate_offline(offline_code, hardware_id, product_name, now)

    # -- floating seats (docs/client.md "Floating seats") ------------------------------------

    def lease(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str,
        *,
        version: str | None = None,
        ttl_seconds: int | None = None,
        on_lost: Callable[[LeaseLostReason], Any] | None = None,
        handle_sigterm: bool = True,
    ) -> AsyncLease:
        """A floating seat to hold with ``async with``: checked out on entry (or raises
        NoFreeSeatError, ConflictError...), renewed in the background at a third of the TTL,
        released on exit, at interpreter exit and on SIGTERM (``handle_sigterm=False``: no
        signal handler). ``on_lost(reason)`` is called if it is lost."""
        from ._async_lease import AsyncLease

        return AsyncLease(
            self,
            activation_key,
            hardware_id,
            product_name,
            version=version,
            ttl_seconds=ttl_seconds,
            on_lost=on_lost,
            handle_sigterm=handle_sigterm,
        )

    async def borrow(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str,
        hours: int,
        *,
        version: str | None = None,
    ) -> BorrowedLease:
        """Check a floating seat out for ``hours`` of offline use. Its signed token is kept in
        the state directory for :meth:`validate_lease_offline`. Raises as :meth:`lease`."""
        payload, call = self._core.lease_checkout(
            activation_key, hardware_id, product_name, version, None, hours
        )
        grant = await self._send(call)
        return self._core.borrowed(payload, grant)

    async def return_borrowed(self, hardware_id: str, product_name: str) -> bool:
        """Give the seat borrowed for this machine and product back early; False when none
        is borrowed here. The kept token is dropped once the server has it (or no longer
        knows the lease). Raises TransportError when unreachable (the token is kept)."""
        call = self._core.borrowed_release(hardware_id, product_name)
        if call is None:
            return False
        with contextlib.suppress(NotFoundError):  # it ran out or was ended: the seat is free
            await self._send(call)
        self._core.borrowed_returned(hardware_id, product_name)
        return True

    def validate_lease_offline(
        self,
        token: str | None = None,
        *,
        hardware_id: str,
        product_name: str,
        now: datetime | None = None,
    ) -> LeaseCheck:
        """Check a lease token locally (no network): the borrowed one of this machine and
        product when ``token`` is None. Signature (``offline_public_key``), product, machine,
        clock and expiry; never raises for a bad token: see ``status``."""
        return self._core.validate_lease_offline(token, hardware_id, product_name, now)

    async def validate_smart(
        self,
        activation_key_or_offline_code: str,
        hardware_id: str,
        product_name: str | None = None,
        version: str | None = None,
    ) -> SmartValidationResult:
        """Offline code: checked locally at once (a bounded server sync runs in the background).
        Online key: checked by the server; status ``offline`` only when it is unreachable. With
        signed answers, an unreachable server (or a rejected signature) is answered from the last
        verified check for ``grace_period``; a clock behind trusted time: ``clock_tampered``;
        past the server's ``checkInDays`` without an online check: ``check_in_required``.

        Raises APIError (e.g. 401/403/404) and InvalidResponseError: they are not "offline".
        """
        from ._offline import is_offline_code

        key = activation_key_or_offline_code
        if is_offline_code(key):
            result = self.validate_offline(key, hardware_id, product_name=product_name)
            answer = self._core.smart_offline(key, hardware_id, result)
            if answer.status == ValidationStatus.CHECK_IN_REQUIRED:  # ask the server now
                sync = self._core.offline_sync(key, hardware_id, product_name, version)
                with contextlib.suppress(
                    TransportError, APIError, AnswerSignatureError, InvalidResponseError
                ):
                    await self._send(sync, timeout=SYNC_TIMEOUT, max_retries=0)
                return self._core.smart_offline(key, hardware_id, result)
            if result.is_valid:  # the server's answer, in the background, counts next time
                self._start_sync(self._core.offline_sync(key, hardware_id, product_name, version))
            return answer
        try:
            online = await self.validate(key, hardware_id, product_name, version)
        except (TransportError, AnswerSignatureError) as error:
            return self._core.unreachable(key, hardware_id, product_name, error)
        await self._flush_quietly()
        return smart.from_online(online, product_name)

    async def deactivate_smart(
        self, activation_key_or_offline_code: str, hardware_id: str, product_name: str
    ) -> DeactivationResult:
        """Deactivate, telling a refusal (success False) from an unreachable server (success
        True, server_notified False: queued in the outbox, see :meth:`flush_outbox`). Offline
        codes deactivate locally; telling the server is one short best-effort attempt. Never
        raises for server or network failures."""
        from ._offline import is_offline_code

        key = activation_key_or_offline_code
        call = self._core.deactivate(key, hardware_id, product_name)
        if is_offline_code(key):
            try:
                await self._send(call, timeout=SYNC_TIMEOUT, max_retries=0)
            except (TransportError, APIError) as error:
                return smart.offline_code_deactivated(error)
            return smart.offline_code_deactivated(None)
        try:
            await self._send(call)
        except (TransportError, AnswerSignatureError):
            self._core.guard.forget(key, hardware_id)
            self._core.guard.queue_deactivation(key, hardware_id, product_name)
            return smart.deactivation_unreachable()
        except APIError as error:
            return smart.deactivation_refused(error)
        self._core.guard.forget(key, hardware_id)
        await self._flush_quietly()
        return smart.deactivated()

    async def flush_outbox(self) -> int:
        """Deliver deactivations queued while the server was unreachable; how many it took.

        An entry leaves the outbox only when the server confirmed it (or refused it for good,
        e.g. the license no longer exists); stops at the first unreachable attempt.
        """
        delivered = 0
        for entry, call in self._core.outbox_calls():
            error: Exception | None = None
            try:
                await self._send(call, timeout=SYNC_TIMEOUT, max_retries=0)
            except (TransportError, APIError, AnswerSignatureError, InvalidResponseError) as exc:
                error = exc
            if self._core.guard.delivered(entry, error):
                delivered += 1
            elif isinstance(error, TransportError):
                break
        return delivered

    async def _flush_quietly(self) -> None:
        """After a successful contact: deliver the outbox, never failing the caller."""
        try:
            if self._core.guard.pending_deactivations():
                await self.flush_outbox()
        except Exception as error:  # best effort: the caller's own answer already stands
            logger.debug("outbox delivery failed: %s", type(error).__name__)

    def _start_sync(self, call: Call[Any]) -> None:
        """Tell the server about an offline code in a task (kept, cancelled by aclose)."""
        task = asyncio.ensure_future(self._sync_quietly(call))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sync_quietly(self, call: Call[Any]) -> None:
        try:
            await self._send(call, timeout=SYNC_TIMEOUT, max_retries=0)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # best effort: the local result already stands
            logger.debug("background sync failed: %s", type(error).__name__)
