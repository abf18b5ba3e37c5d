"""Fulfilling purchase events: p99 latency with 50 concurrent Stripe-signed
``checkout.session.completed`` deliveries to ``exisone-server serve --workers 2`` on SQLite.

Each delivery is verified (the tenant's app found by its signing secret), stored, fulfilled
(a license, its history, the ``license.created`` outbox row, the purchase e-mail in the mail
outbox) and answered. Every round sends 50 new events at once, one per kept-alive connection,
and times each from its write until its whole answer is read; the figure is the p99 over all
rounds' deliveries. The reference, measured in the same rounds, is ``GET /health`` at the same
concurrency: what the server and the client cost without any payment work. The requests are
bytes prepared (and signed) before the round, on raw connections: an HTTP client library's
own work for 50 requests at once took longer than the server's answers to ``/health``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import stripe

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Target, error_case, evaluate
from benchmarks.server.processes import serve
from benchmarks.stats import median
from exisone_server.config import Settings, sqlite_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.migrate import upgrade
from exisone_server.models import Product
from exisone_server.payments.apps import AppForm, save_app
from exisone_server.tenants.service import create_tenant

__all__ = ["run_payments_group"]

GROUP = "payments"
CONCURRENCY = int(os.environ.get("EXISONE_BENCH_PAYMENTS_CONCURRENCY", "50"))
TARGET = Target("p99 ≤ 50 ms", max_seconds=0.050)
SECRET = "whsec_bench_" + "0" * 24


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _prepare(settings: Settings, master_key: MasterKey) -> int:
    database = Database.from_settings(settings)
    try:
        async with database.write() as session:
            tenant = await create_tenant(session, "payments-bench", master_key)
            product = Product(
                tenant_id=tenant.id, name="Sold", send_purchase_email=True, default_license_days=365
            )
            session.add(product)
            await session.flush()
            await save_app(
                session,
                tenant.id,
                master_key,
                AppForm(
                    provider="stripe", name="Bench", secret_key="sk_test_x", signing_secret=SECRET
                ),
            )
            return product.id
    finally:
        await database.dispose()


def _delivery(product_id: int, port: int) -> bytes:
    """A Stripe-signed ``checkout.session.completed`` delivery, as request bytes."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": f"cs_{uuid.uuid4().hex}",
                    "mode": "payment",
                    "payment_status": "paid",
                    "payment_intent": f"pi_{uuid.uuid4().hex}",
                    "customer_details": {"email": "buyer@example.com"},
                    "metadata": {"productId": str(product_id)},
                }
            },
        }
    )
    signature = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    content = body.encode()
    head = (
        f"POST /api/stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nStripe-Signature: {signature}\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content


def _health(port: int) -> bytes:
    return f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


class _Connection:
    """One kept-alive HTTP/1.1 connection: send a prepared request, read its answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def timed(self, request: bytes, *, fulfilled: bool) -> float:
        """Seconds from writing ``request`` to its whole answer; a refusal raises (and, with
        ``fulfilled``, an answer that does not say the event was fulfilled)."""
        started = time.perf_counter()
        self._writer.write(request)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await self._reader.readexactly(length)
        elapsed = time.perf_counter() - started
        status = status_line.split(b" ", 2)[1:2]
        answered = json.loads(body) if fulfilled and body else {}
        if status != [b"200"] or (fulfilled and answered.get("status") not in ("fulfilled", "ok")):
            raise RuntimeError(f"unexpected answer {status_line!r}: {body[:200]!r}")
        return elapsed

    def close(self) -> None:
        self._writer.close()


async def _rounds(port: int, product_id: int, rounds: int) -> tuple[list[float], list[float]]:
    connections = [await _Connection.open(port) for _ in range(CONCURRENCY)]
    payments: list[float] = []
    health: list[float] = []
    try:
        for index in range(rounds + 1):  # the first round warms up
            posts = [_delivery(product_id, port) for _ in range(CONCURRENCY)]
            gets = [_health(port)] * CONCURRENCY
            measured: dict[bool, list[float]] = {}
            for fulfilled in (True, False) if index % 2 else (False, True):
                batch = posts if fulfilled else gets
                measured[fulfilled] = list(
                    await asyncio.gather(
                        *(c.timed(r, fulfilled=fulfilled) for c, r in zip(connections, batch))
                    )
                )
            if index:
                payments += measured[True]
                health += measured[False]
    finally:
        for connection in connections:
            connection.close()
    return payments, health


def run_payments_group(ctx: RunContext) -> list[CaseResult]:
    rounds = ctx.rounds_or(10, 3)
    case = f"fulfil {CONCURRENCY} Stripe purchase events at once (SQLite, 2 workers)"
    executable = Path(sys.executable).with_name("exisone-server")
    try:
        with tempfile.TemporaryDirectory(prefix="exisone-bench-payments-") as scratch:
            folder = Path(scratch)
            key_text = MasterKey.generate_base64()
            master_key = MasterKey.from_base64(key_text)
            settings = Settings(folder, sqlite_url(folder / "exisone.db"), master_key=key_text)
            upgrade(settings)
            product_id = asyncio.run(_prepare(settings, master_key))
            env = {
                **os.environ,
                "EXISONE_DATA_DIR": str(folder),
                "EXISONE_DATABASE_URL": settings.database_url,
                "EXISONE_MASTER_KEY": key_text,
                "EXISONE_MAIL_WORKER": "0",
                "EXISONE_WEBHOOKS_WORKER": "0",
            }
            ctx.log(f"payments: {rounds} rounds of {CONCURRENCY} events, SQLite, 2 workers")
            with serve(executable, env, 2, folder / "server.log") as (port, _):
                payments, health = asyncio.run(_rounds(port, product_id, rounds))
    except Exception as exc:
        return [error_case(GROUP, case, TARGET, repr(exc)[:300])]
    p99, reference = _p99(payments), _p99(health)
    return [
        CaseResult(
            GROUP,
            case,
            "p99",
            p99,
            "GET /health p99",
            reference,
            p99 / reference if reference else None,
            TARGET,
            evaluate(TARGET, p99, None),
            f"median {median(payments) * 1000:.1f} ms over {len(payments)} events",
            {"payments": payments, "health": health},
        )
    ]
