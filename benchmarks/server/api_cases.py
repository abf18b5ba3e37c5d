"""The api group: API-key consumes under wrk load (SQLite and PostgreSQL, 2 workers), saturated
and paced to the target rate; validate with analytics on vs off, side by side in one run.

Consumes write: each is one conditional UPDATE, and a process commits the consumes that wait
together (exisone_server.api_keys.batcher). What the rows measure is in docs/benchmarks.md.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Status, Target, error_case, skipped_case
from benchmarks.server.bare_app import BARE_PATH
from benchmarks.server.cases import BACKEND_LABEL, CONNECTIONS, FIXED_FACTORY, Contender
from benchmarks.server.dataset import (
    NotLoaded,
    both_databases,
    settle,
)
from benchmarks.server.fixed_app import FIXED_PATH
from benchmarks.server.geo import write_country_database
from benchmarks.server.processes import ServerError, bare_server, serve
from benchmarks.server.references import BARE_TARGET, bare_key, ratio_rows
from benchmarks.server.scripts import consume_script, validate_script
from benchmarks.stats import interleaved_rounds, median

__all__ = ["run_api_group"]

GROUP = "api"
#: Consumes per second the 2-worker server must reach (saturated), and offer when paced.
MIN_CONSUMES = 2_000.0
MAX_P99_S = 0.020
#: Validate throughput with analytics on must be at least this share of analytics off.
ANALYTICS_FLOOR = 0.95
#: API keys the consume load spreads over (each with a quota it cannot spend in a run).
KEYS = 100
API_PRODUCT = "BenchApi"


def _request(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method,
            path,
            json.dumps(body) if body is not None else None,
            {"Content-Type": "application/json", "Authorization": f"ExisOneApi {token}"},
        )
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status not in (200, 201):
        raise ServerError(f"{method} {path} answered {response.status}: {data[:200]!r}")
    return json.loads(data)


def _api_keys(port: int, token: str) -> list[str]:
    """An API product with a quota no run can spend, and :data:`KEYS` keys of it."""
    _request(
        port,
        "POST",
        "/api/product",
        token,
        {"name": API_PRODUCT, "isApiProduct": True, "defaultApiCalls": 10**12},
    )
    keys = [
        _request(
            port,
            "POST",
            "/api/activationkey/generate",
            token,
            {"productName": API_PRODUCT, "email": f"api{n}@example.com"},
        )["activationKey"]
        for n in range(KEYS)
    ]
    answer = _request(port, "POST", "/api/license/consume", token, {"activationKey": keys[0]})
    if answer.get("allowed") is not True:
        raise ServerError(f"a consume of a fresh key answered {answer}")
    return keys


def _consume_row(
    backend: str, saturated: Contender, paced: Contender, fixed: Contender
) -> list[CaseResult]:
    label = BACKEND_LABEL[backend]
    rate_ok = saturated.rate >= MIN_CONSUMES and saturated.errors == 0
    paced_ok = paced.p99 <= MAX_P99_S and paced.errors == 0
    return [
        CaseResult(
            GROUP,
            f"consume {label}, 2 workers, {KEYS} keys, saturated",
            "consume",
            1.0 / saturated.rate,
            "",
            None,
            None,
            Target(f"≥ {MIN_CONSUMES:,.0f} consumes/s, 0 errors"),
            Status.PASS if rate_ok else Status.FAIL,
            f"{saturated.rate:,.0f} consumes/s; p99 {saturated.p99 * 1e3:.1f} ms; "
            f"{saturated.errors} errors",
            {"display": {"measured": f"{saturated.rate:,.0f} req/s"}, **saturated.summary()},
        ),
        CaseResult(
            GROUP,
            f"consume {label}, 2 workers, paced to {MIN_CONSUMES:,.0f}/s offered",
            "p99",
            paced.p99,
            "",
            None,
            None,
            Target("p99 ≤ 20 ms, 0 errors"),
            Status.PASS if paced_ok else Status.FAIL,
            f"{paced.rate:,.0f} consumes/s; p50 "
            f"{median([r.p50 for r in paced.results]) * 1e3:.1f} ms; {paced.errors} errors",
            {"display": {"measured": f"p99 {paced.p99 * 1e3:.1f} ms"}, **paced.summary()},
        ),
        CaseResult(
            GROUP,
            f"consume {label}, 2 workers ÷ the stack's fixed answer, same run",
            "consume",
            1.0 / saturated.rate,
            "fixed",
            1.0 / fixed.rate,
            saturated.rate / fixed.rate,
            None,
            Status.INFO,
            f"fixed answer {fixed.rate:,.0f} req/s p99 {fixed.p99 * 1e3:.1f} ms (the framework's "
            "ceiling on this host now: the ratio is what carries over between hosts)",
            {
                "display": {
                    "measured": f"{saturated.rate:,.0f} req/s",
                    "reference": f"fixed {fixed.rate:,.0f} req/s",
                },
                "ours": saturated.summary(),
                "reference": fixed.summary(),
            },
        ),
    ]


def _analytics_row(on: Contender, off: Contender) -> CaseResult:
    ratio = on.rate / off.rate
    ok = ratio >= ANALYTICS_FLOOR and on.errors == 0 and off.errors == 0
    return CaseResult(
        GROUP,
        "validate SQLite 1k licenses, 2 workers: analytics on (with a country database) "
        "÷ analytics off",
        "validate",
        1.0 / on.rate,
        "analytics off",
        1.0 / off.rate,
        ratio,
        Target(f"≥ {ANALYTICS_FLOOR:.2f}× off"),
        Status.PASS if ok else Status.FAIL,
        f"on {on.rate:,.0f} req/s p99 {on.p99 * 1e3:.1f} ms; off {off.rate:,.0f} req/s "
        f"p99 {off.p99 * 1e3:.1f} ms",
        {
            "display": {
                "measured": f"{on.rate:,.0f} req/s",
                "reference": f"off {off.rate:,.0f} req/s",
            },
            "ours": on.summary(),
            "reference": off.summary(),
        },
    )


def run_api_group(ctx: RunContext) -> list[CaseResult]:
    """Measure the api cases; see docs/benchmarks.md."""
    executable = ctx.repo_root / ".venv" / "bin" / "exisone-server"
    if not executable.exists():
        return [error_case(GROUP, "load tests", None, f"{executable.name} is not installed")]
    seconds, warmup = (3.0, 1.0) if ctx.quick else (8.0, 2.0)
    rounds = ctx.rounds_or(3, 1)
    rows: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="exisone-bench-api-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        log = folder / "servers.log"
        try:
            deployments, skipped = both_databases(stack, executable, folder, 1_000, ctx.log, "api")
        except NotLoaded as exc:
            return [error_case(GROUP, f"load {exc.label}", None, str(exc))]
        consumes: dict[str, Contender] = {}
        for backend, dep in deployments.items():
            port, process = stack.enter_context(serve(executable, dep.env, 2, log))
            try:
                keys = _api_keys(port, dep.token)
            except ServerError as exc:
                return [*rows, error_case(GROUP, f"consume {backend}", None, str(exc))]
            url = f"http://127.0.0.1:{port}/api/license/consume"
            script = consume_script(folder / f"{backend}-consume.lua", dep.token, keys)
            consumes[backend] = Contender(url, _constant(script), process.pid)
            think_ms = 1e3 * CONNECTIONS / MIN_CONSUMES
            paced = consume_script(
                folder / f"{backend}-consume-paced.lua", dep.token, keys, think_ms=think_ms
            )
            consumes[f"{backend}-paced"] = Contender(url, _constant(paced), process.pid)

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
        consumes["fixed"] = Contender(
            f"http://127.0.0.1:{port}{FIXED_PATH}", _constant(fixed_script), process.pid
        )
        port, process = stack.enter_context(
            bare_server(
                executable.parent / "granian",
                {**os.environ, "PYTHONPATH": str(ctx.repo_root)},
                2,
                log,
                BARE_TARGET,
            )
        )
        consumes["bare"] = Contender(
            f"http://127.0.0.1:{port}{BARE_PATH}", _constant(fixed_script), process.pid
        )
        country_db = write_country_database(folder / "countries.mmdb")
        validates: dict[str, Contender] = {}
        for state, extra in (
            ("on", {"EXISONE_ANALYTICS": "on", "EXISONE_GEOIP_DATABASE": str(country_db)}),
            ("off", {"EXISONE_ANALYTICS": "off"}),
        ):
            port, process = stack.enter_context(serve(executable, {**sqlite.env, **extra}, 2, log))
            script = validate_script(
                folder / f"validate-{state}.lua", sqlite.token, sqlite.product_name, 1_000
            )
            validates[state] = Contender(
                f"http://127.0.0.1:{port}/api/license/validate", _constant(script), process.pid
            )

        def sampler(contender: Contender) -> Callable[[], float]:
            def sample() -> float:
                result = contender.timed_run(seconds, warmup, CONNECTIONS)
                ctx.log(f"api: {contender.progress()}")
                return 1.0 / result.requests_per_s

            return sample

        for problem in settle(deployments.values()):
            ctx.log(f"api: {problem}")
        ctx.log(f"api: validate, analytics on and off, {rounds} round(s) of {seconds:.0f} s")
        interleaved_rounds({n: sampler(c) for n, c in validates.items()}, rounds, warmup_rounds=0)
        ctx.log(f"api: consumes, {rounds} round(s) of {seconds:.0f} s")
        interleaved_rounds({n: sampler(c) for n, c in consumes.items()}, rounds, warmup_rounds=0)
        rows.append(_analytics_row(validates["on"], validates["off"]))
        for backend in ("sqlite", "postgresql"):
            if backend in skipped:
                rows.append(
                    skipped_case(GROUP, f"consume {BACKEND_LABEL[backend]}", None, skipped[backend])
                )
                continue
            rows += _consume_row(
                backend, consumes[backend], consumes[f"{backend}-paced"], consumes["fixed"]
            )
        measured = {f"{b}-consume-w2": consumes[b] for b in deployments}
        rows += ratio_rows(GROUP, {**measured, bare_key(2): consumes["bare"]}, list(deployments))
    return rows


def _constant(path: Path) -> Callable[[], Path]:
    return lambda: path
