"""Lease: a floating seat held by a blocking client, renewed by a daemon thread."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable

import httpx

from . import _lease_exit as exits
from . import _lease_policy as policy
from ._exceptions import APIError, ClientClosedError, NotFoundError, TransportError
from ._models import LeaseGrant, LeaseLostReason

if TYPE_CHECKING:
    from ._client import ExisOneClient

__all__ = ["Lease"]

logger = logging.getLogger("exisone")

OnLost = Callable[[LeaseLostReason], Any]


class LeaseState:
    """What both lease kinds know: the grant, the local deadline, and whether it was lost."""

    def __init__(
        self,
        activation_key: str,
        hardware_id: str,
        product_name: str,
        version: str | None,
        ttl_seconds: int | None,
        on_lost: OnLost | None,
        handle_sigterm: bool,
    ) -> None:
        self._args = (activation_key, hardware_id, product_name, version, ttl_seconds)
        self._on_lost = on_lost
        self._handle_sigterm = handle_sigterm
        self._grant: LeaseGrant | None = None
        self._ttl = 0.0
        self._deadline = 0.0  # time.monotonic() by which a heartbeat must get through
        self._lost: LeaseLostReason | None = None
        self._released = False
        self._random: Callable[[], float] = random.random

    def __repr__(self) -> str:
        state = "lost" if self.lost else "active" if self.active else "idle"
        lease_id = self._grant.lease_id if self._grant else None
        return f"<{type(self).__name__} {lease_id!r} {state}>"

    @property
    def grant(self) -> LeaseGrant | None:
        """The server's latest answer (checkout or heartbeat); ``None`` before checkout."""
        return self._grant

    @property
    def lease_id(self) -> str | None:
        return self._grant.lease_id if self._grant else None

    @property
    def token(self) -> str | None:
        """The latest signed lease token (renewed with each heartbeat)."""
        return self._grant.lease_token if self._grant else None

    @property
    def expires_at(self) -> datetime | None:
        """When the lease runs out unless renewed (the server's time)."""
        return self._grant.expires_at if self._grant else None

    @property
    def features(self) -> tuple[str, ...]:
        return self._grant.features if self._grant else ()

    @property
    def lost_reason(self) -> LeaseLostReason | None:
        """Why the lease was lost; also ``ttl_passed`` as soon as the deadline is behind."""
        if self._lost is None and self._held() and time.monotonic() >= self._deadline:
            return LeaseLostReason.TTL_PASSED
        return self._lost

    @property
    def lost(self) -> bool:
        """True once the lease is lost: the application should stop using the seat."""
        return self.lost_reason is not None

    @property
    def active(self) -> bool:
        """Checked out, not released, not lost."""
        return self._held() and not self.lost

    def _held(self) -> bool:
        return self._grant is not None and not self._released

    def _granted(self, grant: LeaseGrant, sent_at: float, server_now: datetime) -> None:
        self._grant = grant
        self._ttl = policy.ttl_of(grant, server_now)
        self._deadline = sent_at + self._ttl

    def _mark_lost(self, reason: LeaseLostReason) -> bool:
        """Record the loss once; True when this call recorded it."""
        if self._lost is not None or self._released:
            return False
        self._lost = reason
        logger.warning("lease %s lost: %s", self.lease_id, reason)
        return True


class Lease(LeaseState):
    """A floating seat of :meth:`ExisOneClient.lease`. ``with`` checks it out (or raises),
    heartbeats in a daemon thread at a third of the TTL, and releases it at the end.

    Transient failures (unreachable, 5xx, 429) are retried with backoff inside the TTL. The
    lease is lost on 410, 404, a revoked or suspended license, or a TTL without a heartbeat:
    ``lost`` turns True and ``on_lost(reason)`` is called (from the heartbeat thread).
    """

    def __init__(
        self,
        client: ExisOneClient,
        activation_key: str,
        hardware_id: str,
        product_name: str,
        *,
        version: str | None = None,
        ttl_seconds: int | None = None,
        on_lost: OnLost | None = None,
        handle_sigterm: bool = True,
    ) -> None:
        super().__init__(
            activation_key,
            hardware_id,
            product_name,
            version,
            ttl_seconds,
            on_lost,
            handle_sigterm,
        )
        self._client = client
        self._core = client._core
        # Raise bad arguments at once, not at checkout.
        self._core.lease_checkout(*self._args)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> LeaseGrant:
        """Check the seat out and start the heartbeats. Raises as the client's calls do:
        NoFreeSeatError, ConflictError (``not_floating``, ``license_revoked``...),
        NotFoundError, BadRequestError, TransportError."""
        if self._grant is not None:
            raise RuntimeError("this lease was checked out already; make a new one")
        _, call = self._core.lease_checkout(*self._args)
        sent_at = time.monotonic()
        grant = self._client._send(call)
        self._granted(grant, sent_at, self._core.guard.now())
        releaser = exits.blocking_releaser(
            self._core, self._client._verify, self._client._transport, grant.lease_id
        )
        if releaser is not None:
            exits.register(id(self), releaser, self._handle_sigterm)
        self._thread = threading.Thread(
            target=self._run, name=f"exisone-lease-{grant.lease_id}", daemon=True
        )
        self._thread.start()
        return grant

    def release(self) -> bool:
        """Stop the heartbeats and give the seat back; True when the server confirmed it.
        A lost lease, an unknown lease and an unreachable server are not errors (the seat
        comes back by itself when the TTL runs out)."""
        if self._grant is None or self._released:
            return False
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(policy.CALL_TIMEOUT)
        ended = self._lost in policy.ENDED_BY_SERVER
        self._released = True
        exits.unregister(id(self))
        if ended:
            return False
        try:  # also after a loss on this side (TTL passed, refused): the server may hold it
            self._client._send(
                self._core.lease_release(self._grant.lease_id),
                timeout=httpx.Timeout(policy.CALL_TIMEOUT),
                max_retries=1,
            )
        except NotFoundError:
            return False
        except (TransportError, APIError, ClientClosedError) as error:
            logger.info("lease %s not released (%s): it runs out by its TTL", self.lease_id, error)
            return False
        return True

    def heartbeat(self) -> LeaseGrant:
        """Renew the lease now, once (the thread does it by itself). Raises on failure."""
        if self._grant is None:
            raise RuntimeError("the lease is not checked out")
        call = self._core.lease_heartbeat(self._grant.lease_id, self._grant.features)
        sent_at = time.monotonic()
        remaining = max(policy.MIN_WAIT, self._deadline - sent_at)
        grant = self._client._send(
            call, timeout=httpx.Timeout(min(remaining, policy.HEARTBEAT_TIMEOUT)), max_retries=0
        )
        self._granted(grant, sent_at, self._core.guard.now())
        return grant

    # -- the heartbeat thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(policy.heartbeat_interval(self._ttl)):
            if not self._renew():
                return

    def _renew(self) -> bool:
        """One heartbeat, retried inside the TTL; False when the lease is lost or stopped."""
        attempt = 0
        while not self._stop.is_set():
            try:
                self.heartbeat()
                return True
            except Exception as error:
                reason = policy.lost_reason(error)
                if reason is None:
                    remaining = self._deadline - time.monotonic()
                    if remaining <= 0:
                        reason = LeaseLostReason.TTL_PASSED
                    else:
                        logger.debug("lease heartbeat failed (%s), retrying", error)
                        wait = policy.retry_wait(attempt, self._random(), remaining)
                        attempt += 1
                        if self._stop.wait(wait):
                            return False
                        continue
                self._lose(reason)
                return False
        return False

    def _lose(self, reason: LeaseLostReason) -> None:
        if not self._mark_lost(reason):
            return
        if reason in policy.ENDED_BY_SERVER:
            exits.unregister(id(self))
        if self._on_lost is not None:
            try:
                self._on_lost(reason)
            except Exception:
                logger.exception("the lease's on_lost callback failed")
