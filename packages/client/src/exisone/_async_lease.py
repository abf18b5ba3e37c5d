"""AsyncLease: a floating seat held by the asyncio client, renewed by a task."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from . import _lease_exit as exits
from . import _lease_policy as policy
from ._exceptions import APIError, ClientClosedError, NotFoundError, TransportError
from ._lease import LeaseState, OnLost
from ._models import LeaseGrant, LeaseLostReason

if TYPE_CHECKING:
    from ._async_client import AsyncExisOneClient

__all__ = ["AsyncLease"]

logger = logging.getLogger("exisone")


class AsyncLease(LeaseState):
    """A floating seat of :meth:`AsyncExisOneClient.lease`: ``async with`` checks it out (or
    raises), heartbeats in an asyncio task at a third of the TTL and releases it at the end.
    Same rules as :class:`Lease`; ``on_lost`` may be a plain function or a coroutine function.
    """

    def __init__(
        self,
        client: AsyncExisOneClient,
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
        self._core.lease_checkout(*self._args)  # bad arguments raise here
        self._stop: asyncio.Event | None = None  # made in acquire, on the running loop
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncLease:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    async def acquire(self) -> LeaseGrant:
        """Check the seat out and start the heartbeat task; raises as :meth:`Lease.acquire`."""
        if self._grant is not None:
            raise RuntimeError("this lease was checked out already; make a new one")
        _, call = self._core.lease_checkout(*self._args)
        sent_at = time.monotonic()
        grant = await self._client._send(call)
        self._granted(grant, sent_at, self._core.guard.now())
        self._stop = asyncio.Event()
        releaser = exits.blocking_releaser(
            self._core, self._client._verify, self._client._transport, grant.lease_id
        )
        if releaser is not None:
            exits.register(id(self), releaser, self._handle_sigterm)
        self._task = asyncio.ensure_future(self._run())
        return grant

    async def release(self) -> bool:
        """Stop the heartbeats and give the seat back; True when the server confirmed it."""
        if self._grant is None or self._released:
            return False
        if self._stop is not None:
            self._stop.set()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        ended = self._lost in policy.ENDED_BY_SERVER
        self._released = True
        exits.unregister(id(self))
        if ended:
            return False
        try:  # also after a loss on this side (TTL passed, refused): the server may hold it
            await self._client._send(
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

    async def heartbeat(self) -> LeaseGrant:
        """Renew the lease now, once (the task does it by itself). Raises on failure."""
        if self._grant is None:
            raise RuntimeError("the lease is not checked out")
        call = self._core.lease_heartbeat(self._grant.lease_id, self._grant.features)
        sent_at = time.monotonic()
        remaining = max(policy.MIN_WAIT, self._deadline - sent_at)
        grant = await self._client._send(
            call, timeout=httpx.Timeout(min(remaining, policy.HEARTBEAT_TIMEOUT)), max_retries=0
        )
        self._granted(grant, sent_at, self._core.guard.now())
        return grant

    # -- the heartbeat task --------------------------------------------------------------------

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when the lease was stopped meanwhile."""
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while not await self._wait(policy.heartbeat_interval(self._ttl)):
            if not await self._renew():
                return

    async def _renew(self) -> bool:
        attempt = 0
        assert self._stop is not None
        while not self._stop.is_set():
            try:
                await self.heartbeat()
                return True
            except asyncio.CancelledError:
                raise
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
                        if await self._wait(wait):
                            return False
                        continue
                await self._lose(reason)
                return False
        return False

    async def _lose(self, reason: LeaseLostReason) -> None:
        if not self._mark_lost(reason):
            return
        if reason in policy.ENDED_BY_SERVER:
            exits.unregister(id(self))
        if self._on_lost is not None:
            try:
                outcome = self._on_lost(reason)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("the lease's on_lost callback failed")
