"""Offline-code issuance against a raw RSA-2048 sign of the same payload, in this process.

Two figures, each beside the raw ``private_key.sign`` (PKCS#1 v1.5, SHA-256) of the same bytes:

* the code itself: the tenant's stored key through the server's per-process cache, payload
  encoding, signature and Crockford encoding (``exisone.issue_offline_code``): the target;
* the whole service call ``issue_offline_activation`` in its write transaction (it also takes
  a seat and writes history), for context.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Status, Target
from benchmarks.server.dataset import ACTIVATION_LICENSES, Deployment, activation_key
from benchmarks.stats import interleaved_rounds, median
from exisone.protocol import encode_payload, issue_offline_code
from exisone_server.config import Settings
from exisone_server.crypto.key_cache import cached_signing_key
from exisone_server.crypto.master_key import load_master_key
from exisone_server.crypto.service import current_crypto_key
from exisone_server.db import Database
from exisone_server.licenses.offline import issue_offline_activation
from exisone_server.licenses.service import find_license

__all__ = ["measure_offline_issuance"]

CODE_TARGET = Target("≥ 0.80× raw sign rate (time ≤ 1.25×)")
MAX_TIME_RATIO = 1.25


def _batch(call: Callable[[], Any], count: int) -> float:
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(count):
            call()
        return (time.perf_counter() - started) / count
    finally:
        gc.enable()


def measure_offline_issuance(ctx: RunContext, dep: Deployment, group: str) -> list[CaseResult]:
    """Rows for the code (target) and the service call (context)."""
    settings = Settings.from_env(dep.env)
    master_key = load_master_key(settings)
    loop = asyncio.new_event_loop()
    database = Database.from_settings(settings)
    try:
        crypto_key = loop.run_until_complete(_crypto_key(database, dep.tenant_id))
        private_key = cached_signing_key(crypto_key, master_key)
        payload = {
            "productId": 1,
            "productName": dep.product_name,
            "hardwareId": "A" * 64,
            "expirationDate": "2099-12-31T23:59:59Z",
            "email": "bench@example.com",
            "features": ["Pro", "Export"],
            "tenantId": dep.tenant_id,
            "version": "1.0.0",
            "activationKey": activation_key(1),
            "issuedAt": "2026-01-01T00:00:00Z",
            "kid": crypto_key.fingerprint,
        }
        body = encode_payload(payload)
        counter = iter(range(10**9))

        def raw() -> None:
            private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())

        def code() -> None:
            issue_offline_code(payload, cached_signing_key(crypto_key, master_key))

        def service() -> None:
            loop.run_until_complete(_issue(database, dep, master_key, next(counter)))

        count = 10 if ctx.quick else 40
        # The service's database work leaves driver threads busy after each of its batches,
        # which skewed the code-versus-sign rounds that followed: measured apart.
        samplers = {"raw": lambda: _batch(raw, count), "code": lambda: _batch(code, count)}
        samples = interleaved_rounds(samplers, ctx.rounds_or(7, 3))
        service_batches = {"service": lambda: _batch(service, max(1, count // 4))}
        samples.update(interleaved_rounds(service_batches, ctx.rounds_or(7, 3)))
    finally:
        loop.run_until_complete(database.dispose())
        loop.close()
    raw_s, code_s, service_s = (median(samples[name]) for name in ("raw", "code", "service"))
    code_ratio = code_s / raw_s
    return [
        CaseResult(
            group,
            "offline code issuance ÷ raw RSA-2048 sign",
            "code",
            code_s,
            "raw sign",
            raw_s,
            code_ratio,
            CODE_TARGET,
            Status.PASS if code_ratio <= MAX_TIME_RATIO else Status.FAIL,
            f"rate ratio {1 / code_ratio:.2f}× (stored key via the per-process cache)",
            {"samples": samples},
        ),
        CaseResult(
            group,
            "issue_offline_activation (service, write transaction) ÷ raw sign",
            "service",
            service_s,
            "raw sign",
            raw_s,
            service_s / raw_s,
            None,
            Status.INFO,
            f"rate ratio {raw_s / service_s:.2f}×; takes a seat and writes history (SQLite)",
            {"samples": samples},
        ),
    ]


async def _crypto_key(database: Database, tenant_id: int) -> Any:
    async with database.read_session() as session:
        return await current_crypto_key(session, tenant_id)


async def _issue(database: Database, dep: Deployment, master_key: Any, index: int) -> None:
    key = activation_key(index % ACTIVATION_LICENSES + 1)
    async with database.write() as session:
        license = await find_license(session, dep.tenant_id, key, lock=True)
        assert license is not None
        await issue_offline_activation(session, license, f"OFFLINE{index:09d}", master_key)
