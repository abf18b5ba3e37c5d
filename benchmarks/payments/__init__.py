"""The payments group: fulfilling purchase events under concurrency (verify, store, license,
outbox), on a real server."""

from __future__ import annotations

from benchmarks.payments.cases import run_payments_group
from benchmarks.registry import register

__all__ = ["run_payments_group"]

register(
    "payments",
    "payments: p99 of fulfilling Stripe purchase events, 50 at once, SQLite, 2 workers",
)(run_payments_group)
