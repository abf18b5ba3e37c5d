"""The leases group: floating-seat heartbeats and checkouts under wrk load (SQLite and
PostgreSQL, 2 workers), with the stack's fixed answer in the same run.

A heartbeat locks the license row, renews one lease and signs a new lease token; a checkout
also counts the license's live leases and inserts one. What the rows measure is in
docs/benchmarks.md.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Status, Target, error_case, skipped_case
from benchmarks.server.api_cases import _request
from benchmarks.server.cases import (
    BACKEND_LABEL,
    CONNECTIONS,
    FIXED_FACTORY,
    PACED_SHARE,
    Contender,
)
from benchmarks.server.dataset import (
    NotLoaded,
    both_databases,
    settle,
    vacuum_analyze,
)
from benchmarks.server.fixed_app import FIXED_PATH
from benchmarks.server.processes import ServerError, serve
from benchmarks.server.scripts import checkout_script, heartbeat_script, validate_script
from benchmarks.server.wrk import run_wrk
from benchmarks.stats import interleaved_rounds

__all__ = ["run_leases_group"]

GROUP = "leases"
#: Heartbeats per second ÷ the fixed answer's, 2 workers on SQLite, saturated.
HEARTBEAT_RATIO = 0.3
#: The heartbeat p99 when paced below saturation (at most :data:`.cases.PACED_SHARE` of the
#: rate the same run's saturated heartbeats reached), and the checkout p99 at 64 connections.
HEARTBEAT_P99_S = 0.020
CHECKOUT_P99_S = 0.050
#: Leases the heartbeat load spreads over (all held by one floating license).
LEASES = 256
#: The checkout load's TTL: leases run out while it runs, as a dead client's would.
CHECKOUT_TTL_S = 5
PRODUCT = "BenchFloating"


def _floating_license(port: int, token: str) -> str:
    """A floating plan, a product and a key of it with room for every lease of a run."""
    _request(port, "POST", "/api/product", token, {"name": PRODUCT})
    plan = _request(
        port,
        "POST",
        "/api/plan",
        token,
        {
            "name": "BenchFloating",
            "isFloating": True,
            "isCorporate": True,
            "maxSeats": 1_000_000,
            "leaseTtlMinSeconds": CHECKOUT_TTL_S,
            "leaseTtlMaxSeconds": 86_400,
            "leaseTtlDefaultSeconds": 3_600,
        },
    )
    generated = _request(
        port,
        "POST",
        "/api/activationkey/generate",
        token,
        {"productName": PRODUCT, "email": "floating@example.com", "planId": plan["id"]},
    )
    return str(generated["activationKey"])


def _leases(port: int, token: str, key: str) -> list[str]:
    """:data:`LEASES` leases of ``key`` with the default TTL (an hour: none runs out)."""
    return [
        str(
            _request(
                port,
                "POST",
                "/api/license/lease",
                token,
                {"activationKey": key, "hardwareId": f"HB-{n}", "productName": PRODUCT},
            )["leaseId"]
        )
        for n in range(LEASES)
    ]


def _rows(
    backend: str,
    saturated: Contender,
    paced: Contender,
    checkout: Contender,
    fixed: Contender,
) -> list[CaseResult]:
    label = BACKEND_LABEL[backend]
    ratio = saturated.rate / fixed.rate
    ratio_target = backend == "sqlite"
    ratio_ok = ratio >= HEARTBEAT_RATIO and saturated.errors == 0
    paced_ok = paced.p99 <= HEARTBEAT_P99_S and paced.errors == 0
    checkout_ok = checkout.p99 <= CHECKOUT_P99_S and checkout.errors == 0
    return [
        CaseResult(
            GROUP,
            f"heartbeat {label}, 2 workers, {LEASES} leases ÷ the stack's fixed answer, same run",
            "heartbeat",
            1.0 / saturated.rate,
            "fixed",
            1.0 / fixed.rate,
            ratio,
            Target(f"≥ {HEARTBEAT_RATIO}× fixed, 0 errors") if ratio_target else None,
            (Status.PASS if ratio_ok else Status.FAIL) if ratio_target else Status.INFO,
            f"{saturated.rate:,.0f} heartbeats/s p99 {saturated.p99 * 1e3:.1f} ms; fixed "
            f"{fixed.rate:,.0f} req/s; {saturated.errors} errors",
            {
                "display": {
                    "measured": f"{saturated.rate:,.0f} req/s",
                    "reference": f"fixed {fixed.rate:,.0f} req/s",
                },
                "ours": saturated.summary(),
                "reference": fixed.summary(),
            },
        ),
        CaseResult(
            GROUP,
            f"heartbeat {label}, 2 workers, paced to ≤ {PACED_SHARE:.0%} of its saturated rate",
            "p99",
            paced.p99,
            "saturated p99",
            saturated.p99,
            paced.p99 / saturated.p99,
            Target("p99 ≤ 20 ms, 0 errors"),
            Status.PASS if paced_ok else Status.FAIL,
            f"{paced.rate:,.0f} heartbeats/s (saturated {saturated.rate:,.0f}); "
            f"{paced.errors} errors",
            {
                "display": {
                    "measured": f"p99 {paced.p99 * 1e3:.1f} ms",
                    "reference": f"saturated p99 {saturated.p99 * 1e3:.1f} ms",
                },
                "ours": paced.summary(),
                "reference": saturated.summary(),
            },
        ),
        CaseResult(
            GROUP,
            f"lease checkout {label}, 2 workers, {CONNECTIONS} connections, TTL {CHECKOUT_TTL_S} s",
            "p99",
            checkout.p99,
            "",
            None,
            None,
            Target("p99 ≤ 50 ms, 0 errors"),
            Status.PASS if checkout_ok else Status.FAIL,
            f"{checkout.rate:,.0f} checkouts/s; {checkout.errors} errors",
            {"display": {"measured": f"p99 {checkout.p99 * 1e3:.1f} ms"}, **checkout.summary()},
        ),
    ]


def run_leases_group(ctx: RunContext) -> list[CaseResult]:
    """Measure the leases cases; see docs/benchmarks.md."""
    executable = ctx.repo_root / ".venv" / "bin" / "exisone-server"
    if not executable.exists():
        return [error_case(GROUP, "load tests", None, f"{executable.name} is not installed")]
    seconds, warmup = (3.0, 1.0) if ctx.quick else (8.0, 2.0)
    rounds = ctx.rounds_or(3, 1)
    rows: list[CaseResult] = []
    with (
        tempfile.TemporaryDirectory(prefix="exisone-bench-leases-") as scratch,
        ExitStack() as stack,
    ):
        folder = Path(scratch)
        log = folder / "servers.log"
        try:
            deployments, skipped = both_databases(
                stack, executable, folder, 1_000, ctx.log, "leases"
            )
        except NotLoaded as exc:
            return [error_case(GROUP, f"load {exc.label}", None, str(exc))]
        contenders: dict[str, Contender] = {}
        leases_of: dict[str, tuple[str, list[str]]] = {}  # backend → token, lease ids
        for backend, dep in deployments.items():
            port, process = stack.enter_context(serve(executable, dep.env, 2, log))
            try:
                key = _floating_license(port, dep.token)
                leases = _leases(port, dep.token, key)
            except ServerError as exc:
                return [*rows, error_case(GROUP, f"leases {backend}", None, str(exc))]
            base = f"http://127.0.0.1:{port}/api/license/lease"
            beat = heartbeat_script(folder / f"{backend}-heartbeat.lua", dep.token, leases)
            contenders[backend] = Contender(f"{base}/heartbeat", _constant(beat), process.pid)
            leases_of[backend] = (dep.token, leases)

            def checkout(backend: str = backend, token: str = dep.token, key: str = key) -> Path:
                tag = uuid.uuid4().hex[:8]  # new devices each run: every request a checkout
                return checkout_script(
                    folder / f"{backend}-checkout-{tag}.lua",
                    token,
                    PRODUCT,
                    key,
                    tag,
                    CHECKOUT_TTL_S,
                )

            contenders[f"{backend}-checkout"] = Contender(base, checkout, process.pid)

        sqlite = deployments["sqlite"]
        port, process = stack.enter_context(
            serve(
                executable,
                {**sqlite.env, "PYTHONPATH": str(ctx.repo_root)},
                2,
                log,
                app_factory=FIXED_FACTORY,
            )
        )
        fixed_script = validate_script(folder / "fixed.lua", "unused", "DemoApp", 1_000)
        contenders["fixed"] = Contender(
            f"http://127.0.0.1:{port}{FIXED_PATH}", _constant(fixed_script), process.pid
        )

        def sampler(contender: Contender) -> Callable[[], float]:
            def sample() -> float:
                for problem in vacuum_analyze(deployments.values()):
                    ctx.log(f"leases: {problem}")
                url, script = contender.url, contender.script()
                run_wrk(url, script, warmup, connections=CONNECTIONS)
                result = run_wrk(url, script, seconds, connections=CONNECTIONS)
                contender.results.append(result)
                ctx.log(
                    f"leases: {contender.url} {result.requests_per_s:,.0f} req/s "
                    f"p99 {result.p99 * 1e3:.1f} ms errors {result.errors}"
                )
                return 1.0 / result.requests_per_s

            return sample

        for problem in settle(deployments.values()):
            ctx.log(f"leases: {problem}")
        ctx.log(f"leases: heartbeats and checkouts, {rounds} round(s) of {seconds:.0f} s")
        interleaved_rounds({n: sampler(c) for n, c in contenders.items()}, rounds, warmup_rounds=0)
        paced = {
            f"{backend}-paced": _paced(contenders[backend], leases_of[backend], folder, backend)
            for backend in deployments
        }
        ctx.log(f"leases: heartbeats paced to ≤ {PACED_SHARE:.0%} of the saturated rate")
        interleaved_rounds({n: sampler(c) for n, c in paced.items()}, rounds, warmup_rounds=0)
        contenders.update(paced)
        for backend in ("sqlite", "postgresql"):
            if backend in skipped:
                rows.append(
                    skipped_case(GROUP, f"leases {BACKEND_LABEL[backend]}", None, skipped[backend])
                )
                continue
            rows += _rows(
                backend,
                contenders[backend],
                contenders[f"{backend}-paced"],
                contenders[f"{backend}-checkout"],
                contenders["fixed"],
            )
    return rows


def _paced(
    saturated: Contender, leases: tuple[str, list[str]], folder: Path, backend: str
) -> Contender:
    """The heartbeats again, each connection pausing between requests so that the offered
    rate is at most :data:`.cases.PACED_SHARE` of the rate they reached saturated."""
    token, ids = leases
    think_ms = 1e3 * CONNECTIONS / (PACED_SHARE * saturated.rate)
    path = folder / f"{backend}-heartbeat-paced.lua"
    script = heartbeat_script(path, token, ids, think_ms=think_ms)
    return Contender(saturated.url, _constant(script), saturated.pid)


def _constant(path: Path) -> Callable[[], Path]:
    return lambda: path
