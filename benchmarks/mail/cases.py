"""The mail worker's send rate: queued messages drained to a local SMTP server.

Per database (SQLite file; PostgreSQL when its server answers): a migrated database with a
tenant, a product and one license per message; each round queues ``count`` purchase e-mails
(not timed) and times :class:`MailWorker` from the first claim until the queue is empty and the
SMTP server has every message. The server is aiosmtpd with STARTTLS and a login (a trustme
certificate, verified by the worker), in a thread of the same process: it shares the
interpreter with the worker, so the figure is a lower bound of what a separate mail server sees.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.server.smtp_server import MailServer, running_mail_server

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Target, error_case, evaluate, skipped_case
from benchmarks.server.dataset import DeploymentError, _postgres_database
from benchmarks.stats import median
from exisone_server.config import Settings, sqlite_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.licenses.service import create_license
from exisone_server.mail import MailKind, MailSettings, MailWorker, enqueue
from exisone_server.mail.smtp import parse_smtp_url
from exisone_server.migrate import upgrade
from exisone_server.models import License, Product
from exisone_server.tenants.service import create_tenant

__all__ = ["run_mail_group"]

GROUP = "mail"
RATE = 50.0
TARGET = Target(f"≥ {RATE:.0f} messages/s", max_seconds=1 / RATE)


@contextmanager
def _database_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_url(folder / "mail.db")
        return
    with _postgres_database() as url:
        yield url


async def _prepare(database: Database, master_key: MasterKey, count: int) -> list[License]:
    async with database.write() as session:
        tenant = await create_tenant(session, "mail-bench", master_key)
        product = Product(tenant_id=tenant.id, name="Mailed")
        session.add(product)
        await session.flush()
        return [
            await create_license(session, product=product, email=f"c{index}@example.com")
            for index in range(count)
        ]


async def _round(
    database: Database, worker: MailWorker, licenses: list[License], server: MailServer
) -> float:
    """Seconds to send every message of one round (queueing not timed)."""
    already = len(server.messages)
    async with database.write() as session:
        for license in licenses:
            await enqueue(
                session,
                license.tenant_id,
                MailKind.PURCHASE,
                license=license,
                settings=worker.settings,
            )
    started = time.perf_counter()
    while await worker.run_once():
        pass
    elapsed = time.perf_counter() - started
    sent = len(server.messages) - already
    if sent != len(licenses):
        raise RuntimeError(f"{sent} of {len(licenses)} messages arrived")
    return elapsed


def _measure(ctx: RunContext, backend: str, folder: Path, count: int, rounds: int) -> CaseResult:
    case = f"mail worker drains {count} messages ({backend}, STARTTLS + login)"
    master_key = MasterKey(os.urandom(32))
    with (
        _database_url(backend, folder) as url,
        running_mail_server(folder, "starttls") as server,
    ):
        settings = Settings(folder, url, master_key=master_key.generate_base64())
        upgrade(settings)
        mail_settings = MailSettings(
            smtp=parse_smtp_url(server.url),
            sender="Bench <bench@example.com>",
            ca_file=str(server.ca_file),
            timeout_seconds=10,
        )

        async def run() -> list[float]:
            database = Database.from_settings(settings)
            try:
                licenses = await _prepare(database, master_key, count)
                worker = MailWorker(database, master_key, mail_settings)
                await _round(database, worker, licenses[: min(20, count)], server)  # warm-up
                return [
                    await _round(database, worker, licenses, server) / count for _ in range(rounds)
                ]
            finally:
                await database.dispose()

        ctx.log(f"mail: {backend}, {rounds} rounds of {count} messages")
        samples = asyncio.run(run())
    per_message = median(samples)
    return CaseResult(
        GROUP,
        case,
        "per message",
        per_message,
        "",
        None,
        None,
        TARGET,
        evaluate(TARGET, per_message, None),
        f"{1 / per_message:,.0f} messages/s (median of {rounds} rounds)",
        {"samples": samples, "messages": count},
    )


def run_mail_group(ctx: RunContext) -> list[CaseResult]:
    """One row per database; see docs/benchmarks.md."""
    count = 200 if ctx.quick else 1_000
    rounds = ctx.rounds_or(5, 2)
    rows: list[CaseResult] = []
    for backend in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory(prefix=f"exisone-bench-mail-{backend}-") as scratch:
            try:
                rows.append(_measure(ctx, backend, Path(scratch), count, rounds))
            except DeploymentError as exc:
                if os.environ.get("CI", "") == "true":
                    rows.append(error_case(GROUP, f"mail ({backend})", TARGET, str(exc)))
                else:
                    rows.append(skipped_case(GROUP, f"mail ({backend})", TARGET, str(exc)))
            except Exception as exc:
                rows.append(error_case(GROUP, f"mail ({backend})", TARGET, repr(exc)[:300]))
    return rows
