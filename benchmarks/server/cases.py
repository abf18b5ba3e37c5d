"""The server group: validate under wrk load, side by side with a bare ASGI answer under the
same granian (the reference of every case), the stack's fixed answer and nginx, on SQLite and
PostgreSQL, 1 and 2 workers; the access log's cost (on vs off); scale (1k vs 1M licenses);
activation throughput; offline-code issuance vs a raw RSA sign; memory after the 1M run.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Status, Target, error_case, skipped_case
from benchmarks.server.bare_app import BARE_PATH
from benchmarks.server.dataset import (
    ACTIVATION_LICENSES,
    Deployment,
    NotLoaded,
    activation_key,
    license_key,
    load_deployments,
    settle,
)
from benchmarks.server.fixed_app import FIXED_PATH
from benchmarks.server.offline import measure_offline_issuance
from benchmarks.server.processes import (
    ServerError,
    bare_server,
    cpu_seconds,
    nginx_server,
    resident_parts,
    serve,
    worker_pids,
)
from benchmarks.server.references import (
    BARE_LABEL,
    BARE_TARGET,
    bare_key,
    cpu_note,
    ratio_row,
    ratio_rows,
)
from benchmarks.server.scripts import activate_script, validate_script
from benchmarks.server.wrk import SETUP_HINT, WrkResult, missing_tools, run_wrk
from benchmarks.stats import interleaved_rounds, median

__all__ = ["run_server_group"]

GROUP = "server"
CONNECTIONS = 64
MAX_P99_S = 0.020
MIN_RATE_2_WORKERS = 10_000.0
#: Validate's least rate as a share of the bare ASGI answer's (same worker count, same run).
RATIO_TARGET = {"sqlite": 0.5, "postgresql": 0.35}
#: Validate with the access log on (the default) must keep at least this share of the rate
#: without it.
ACCESS_LOG_FLOOR = 0.90
#: The key of the configuration serving SQLite validate without an access log.
QUIET = "sqlite-1k-w2-no-access-log"
SCALE_TARGET = 1.3
#: Paced runs offer at most this share of the rate a configuration reached saturated: latency
#: as clients see it under a heavy but sustainable load (wrk cannot send at a fixed rate).
PACED_SHARE = 0.5
FIXED_FACTORY = "benchmarks.server.fixed_app:app_from_env"
NGINX_BODY = '{"isValid":true,"status":"licensed","expirationDate":"2099-12-31T00:00:00Z"}'
BACKEND_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Contender:
    """One load configuration: a URL and the script wrk runs against it."""

    url: str
    script: Callable[[], Path]
    pid: int | None = None
    results: list[WrkResult] = field(default_factory=list)
    #: Seconds of the server's CPU per request, per run (None: not known, e.g. nginx).
    cpu_per_request: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return median([r.requests_per_s for r in self.results])

    @property
    def p99(self) -> float:
        return median([r.p99 for r in self.results])

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)

    @property
    def cpu(self) -> float | None:
        """The median CPU per request of the server (user + system, all its processes)."""
        return median(self.cpu_per_request) if self.cpu_per_request else None

    def timed_run(self, seconds: float, warmup: float, connections: int) -> WrkResult:
        """A warm-up run, then a timed run whose result (and CPU per request) is kept."""
        url = self.url.split("#", 1)[0]
        run_wrk(url, self.script(), warmup, connections=connections)
        before = cpu_seconds(self.pid) if self.pid else None
        result = run_wrk(url, self.script(), seconds, connections=connections)
        if before is not None and self.pid and result.requests:
            self.cpu_per_request.append((cpu_seconds(self.pid) - before) / result.requests)
        self.results.append(result)
        return result

    def progress(self) -> str:
        """The last run, for the progress lines."""
        result = self.results[-1]
        cpu = f", {self.cpu_per_request[-1] * 1e6:.0f} µs CPU/req" if self.cpu_per_request else ""
        return (
            f"{self.url} {result.requests_per_s:,.0f} req/s p99 {result.p99 * 1e3:.1f} ms "
            f"errors {result.errors}{cpu}"
        )

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "requests_per_s": [r.requests_per_s for r in self.results],
            "p50_s": [r.p50 for r in self.results],
            "p99_s": [r.p99 for r in self.results],
            "errors": [r.errors for r in self.results],
            "cpu_per_request_s": self.cpu_per_request,
        }


def _rate_text(rate: float) -> str:
    return f"{rate:,.0f} req/s"


def _post(port: int, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body),
            {"Content-Type": "application/json", "Authorization": f"ExisOneApi {token}"},
        )
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise ServerError(f"POST {path} answered {response.status}: {data[:200]!r}")
    answer: dict[str, Any] = json.loads(data)
    return answer


def _check_validate(port: int, dep: Deployment) -> None:
    """The load is real: sampled licenses answer licensed, an unknown key does not."""
    for index in {1, dep.licenses // 2 or 1, dep.licenses}:
        body = {
            "activationKey": license_key(index),
            "hardwareId": f"HW{index}B",
            "productName": dep.product_name,
        }
        answer = _post(port, "/api/license/validate", dep.token, body)
        if answer.get("status") != "licensed":
            raise ServerError(f"validate of license {index} answered {answer}")
    wrong = {"activationKey": license_key(dep.licenses + 1), "hardwareId": "HW1A"}
    if _post(port, "/api/license/validate", dep.token, wrong).get("isValid") is not False:
        raise ServerError("validate of an unknown key was not refused")


def _rows(
    ctx: RunContext,
    contenders: dict[str, Contender],
    backends: list[str],
    skipped: dict[str, str],
) -> list[CaseResult]:
    rows: list[CaseResult] = []
    for workers in (1, 2):
        bare = contenders[bare_key(workers)]
        fixed = contenders[f"fixed-w{workers}"]
        for backend in ("sqlite", "postgresql"):
            name = f"validate {BACKEND_LABEL[backend]} 1k licenses, {workers} worker(s)"
            floor = RATIO_TARGET[backend]
            absolute = MIN_RATE_2_WORKERS if backend == "sqlite" and workers == 2 else None
            description = f"≥ {floor:.2f}× {BARE_LABEL}, p99 ≤ 20 ms, 0 errors" + (
                f", ≥ {absolute:,.0f} req/s" if absolute else ""
            )
            if backend not in backends:
                rows.append(skipped_case(GROUP, name, Target(description), skipped[backend]))
                continue
            ours = contenders[f"{backend}-1k-w{workers}"]
            rows.append(_load_row(name, ours, bare, BARE_LABEL, floor, absolute, description))
            rows.append(_info_row(f"{name} ÷ stack fixed JSON", ours, fixed, "fixed"))
        nginx = contenders[f"nginx-w{workers}"]
        rows.append(
            _info_row(f"stack fixed JSON ÷ {BARE_LABEL}, {workers} worker(s)", fixed, bare, "bare")
        )
        rows.append(
            _info_row(f"{BARE_LABEL} ÷ nginx fixed body, {workers} worker(s)", bare, nginx, "nginx")
        )
    if QUIET in contenders:
        on, off = contenders["sqlite-1k-w2"], contenders[QUIET]
        rows.append(
            ratio_row(
                GROUP,
                "validate SQLite 1k licenses, 2 workers: access log on (the default)",
                on,
                off,
                reference_label="access log off",
                floor=ACCESS_LOG_FLOOR,
                extra_ok=off.errors == 0,
            )
        )
    for backend in backends:
        small = contenders[f"{backend}-1k-w2"]
        big = contenders.get(f"{backend}-1m-w2")
        if big is None:
            continue
        ratio = big.p99 / small.p99
        ok = ratio <= SCALE_TARGET and big.errors == 0
        rows.append(
            CaseResult(
                GROUP,
                f"scale: validate p99, {BACKEND_LABEL[backend]}, {_count(big)} ÷ 1k licenses"
                ", 2 workers",
                f"{_count(big)} p99",
                big.p99,
                "1k p99",
                small.p99,
                ratio,
                Target(f"≤ {SCALE_TARGET:.2f}×"),
                Status.PASS if ok else Status.FAIL,
                f"{_rate_text(big.rate)} vs {_rate_text(small.rate)}; {big.errors} errors",
                {big.url: big.summary(), small.url: small.summary()},
            )
        )
    rows += ratio_rows(GROUP, contenders, backends)
    return rows


def _paced_contenders(
    contenders: dict[str, Contender],
    deployments: dict[str, Deployment],
    backends: list[str],
    folder: Path,
) -> dict[str, Contender]:
    """The 1k validate configurations again, each connection pausing between requests so that
    the offered rate is at most :data:`PACED_SHARE` of the rate it reached saturated."""
    paced = {}
    for backend in backends:
        dep = deployments[f"{backend}-1k"]
        for workers in (1, 2):
            name = f"{backend}-1k-w{workers}"
            saturated = contenders[name]
            think_ms = 1e3 * CONNECTIONS / (PACED_SHARE * saturated.rate)
            script = validate_script(
                folder / f"{name}-paced.lua",
                dep.token,
                dep.product_name,
                dep.licenses,
                think_ms=think_ms,
            )
            paced[name] = Contender(saturated.url, _constant(script), saturated.pid)
    return paced


def _paced_row(name: str, paced: Contender, saturated: Contender) -> CaseResult:
    backend, _, workers = name.split("-")
    ok = paced.p99 <= MAX_P99_S and paced.errors == 0
    return CaseResult(
        GROUP,
        f"validate {BACKEND_LABEL[backend]} 1k licenses, {workers[1:]} worker(s), "
        f"paced to ≤ {PACED_SHARE:.0%} of its saturated rate",
        "p99",
        paced.p99,
        "saturated p99",
        saturated.p99,
        paced.p99 / saturated.p99,
        Target("p99 ≤ 20 ms, 0 errors"),
        Status.PASS if ok else Status.FAIL,
        f"{_rate_text(paced.rate)} (saturated {_rate_text(saturated.rate)}); "
        f"p50 {median([r.p50 for r in paced.results]) * 1e3:.1f} ms; {paced.errors} errors",
        {
            "display": {
                "measured": f"p99 {paced.p99 * 1e3:.1f} ms",
                "reference": f"saturated p99 {saturated.p99 * 1e3:.1f} ms",
            },
            "ours": paced.summary(),
            "reference": saturated.summary(),
        },
    )


def _count(contender: Contender) -> str:
    return contender.url.rsplit("#", 1)[-1]


def _load_row(
    name: str,
    ours: Contender,
    reference: Contender,
    reference_name: str,
    floor: float,
    absolute: float | None,
    description: str,
) -> CaseResult:
    ratio = ours.rate / reference.rate
    met = (
        ratio >= floor
        and ours.p99 <= MAX_P99_S
        and ours.errors == 0
        and (absolute is None or ours.rate >= absolute)
    )
    note = (
        f"p99 {ours.p99 * 1e3:.1f} ms ({reference_name} {reference.p99 * 1e3:.1f} ms), "
        f"{ours.errors} errors{cpu_note(ours, reference, reference_name)}"
    )
    return CaseResult(
        GROUP,
        name,
        "validate",
        1.0 / ours.rate,
        reference_name,
        1.0 / reference.rate,
        ratio,
        Target(description),
        Status.PASS if met else Status.FAIL,
        note,
        {
            "display": {
                "measured": _rate_text(ours.rate),
                "reference": f"{reference_name} {_rate_text(reference.rate)}",
            },
            "ours": ours.summary(),
            "reference": reference.summary(),
        },
    )


def _info_row(name: str, ours: Contender, reference: Contender, label: str) -> CaseResult:
    return CaseResult(
        GROUP,
        name,
        "",
        1.0 / ours.rate,
        label,
        1.0 / reference.rate,
        ours.rate / reference.rate,
        None,
        Status.INFO,
        f"p99 {ours.p99 * 1e3:.1f} ms, {ours.errors} errors",
        {
            "display": {
                "measured": _rate_text(ours.rate),
                "reference": f"{label} {_rate_text(reference.rate)}",
            },
            "ours": ours.summary(),
            "reference": reference.summary(),
        },
    )


def run_server_group(ctx: RunContext) -> list[CaseResult]:
    """Measure every server case; see docs/benchmarks.md for what each row means."""
    missing = missing_tools()
    if missing:
        reason = f"{', '.join(missing)} missing: {SETUP_HINT}"
        return [error_case(GROUP, "load tests", None, reason)]
    executable = ctx.repo_root / ".venv" / "bin" / "exisone-server"
    if not executable.exists():
        return [error_case(GROUP, "load tests", None, f"{executable.name} is not installed")]
    big = 20_000 if ctx.quick else 1_000_000
    seconds, warmup = (3.0, 1.0) if ctx.quick else (8.0, 2.0)
    rounds = ctx.rounds_or(3, 1)
    env_extra = {"PYTHONPATH": str(ctx.repo_root)}
    rows: list[CaseResult] = []
    with (
        tempfile.TemporaryDirectory(prefix="exisone-bench-server-") as scratch,
        ExitStack() as stack,
    ):
        folder = Path(scratch)
        wanted = [
            (f"{backend}-{'1k' if size == 1_000 else '1m'}", backend, size)
            for backend in ("sqlite", "postgresql")
            for size in (1_000, big)
        ]
        try:
            deployments, skipped = load_deployments(
                stack, executable, folder, wanted, ctx.log, GROUP
            )
        except NotLoaded as exc:
            return [error_case(GROUP, f"load {exc.label}", None, str(exc))]
        backends = [b for b in ("sqlite", "postgresql") if b not in skipped]
        for dep in deployments.values():
            rate = dep.imported_rows / dep.import_seconds
            rows.append(
                CaseResult(
                    GROUP,
                    f"bulk import {dep.licenses:,} licenses + {2 * dep.licenses:,} activations"
                    f" ({BACKEND_LABEL[dep.backend]})",
                    "import",
                    dep.import_seconds,
                    "",
                    None,
                    None,
                    None,
                    Status.INFO,
                    f"{rate:,.0f} rows/s (license import CLI, one transaction)",
                    {"seconds": dep.import_seconds, "rows": dep.imported_rows},
                )
            )

        contenders: dict[str, Contender] = {}
        log = folder / "servers.log"
        validate_lua = validate_script(
            folder / "fixed.lua", "unused", "DemoApp", 1_000
        )  # same bodies for the references
        granian = executable.parent / "granian"
        for workers in (1, 2):
            port, process = stack.enter_context(
                bare_server(granian, {**os.environ, **env_extra}, workers, log, BARE_TARGET)
            )
            contenders[bare_key(workers)] = Contender(
                f"http://127.0.0.1:{port}{BARE_PATH}", _constant(validate_lua), process.pid
            )
            nginx_folder = folder / f"nginx-w{workers}"
            port = stack.enter_context(nginx_server(nginx_folder, workers, NGINX_BODY))
            contenders[f"nginx-w{workers}"] = Contender(
                f"http://127.0.0.1:{port}/", _constant(validate_lua)
            )
            sqlite_env = {**deployments["sqlite-1k"].env, **env_extra}
            port, process = stack.enter_context(
                serve(executable, sqlite_env, workers, log, app_factory=FIXED_FACTORY)
            )
            contenders[f"fixed-w{workers}"] = Contender(
                f"http://127.0.0.1:{port}{FIXED_PATH}", _constant(validate_lua), process.pid
            )
        for label, dep in deployments.items():
            backend, tag = label.split("-")
            worker_counts = (1, 2) if tag == "1k" else (2,)
            for workers in worker_counts:
                port, process = stack.enter_context(serve(executable, dep.env, workers, log))
                try:
                    _check_validate(port, dep)
                except ServerError as exc:
                    return [*rows, error_case(GROUP, f"validate {label}", None, str(exc))]
                script = validate_script(
                    folder / f"{label}-w{workers}.lua", dep.token, dep.product_name, dep.licenses
                )
                count = "1k" if tag == "1k" else f"{dep.licenses:,}"
                url = f"http://127.0.0.1:{port}/api/license/validate#{count}"
                contenders[f"{label}-w{workers}"] = Contender(url, _constant(script), process.pid)
                if label == "sqlite-1k" and workers == 2:
                    quiet_port, quiet = stack.enter_context(
                        serve(executable, dep.env, workers, log, access_log=False)
                    )
                    url = f"http://127.0.0.1:{quiet_port}/api/license/validate#1k, no access log"
                    contenders[QUIET] = Contender(url, _constant(script), quiet.pid)
                if tag == "1k" and workers == 2:
                    _post(
                        port,
                        "/api/license/activate",
                        dep.token,
                        {
                            "activationKey": activation_key(1),
                            "hardwareId": f"CHECK-{uuid.uuid4().hex}",
                            "productName": dep.product_name,
                        },
                    )
                    contenders[f"{backend}-activate-w2"] = Contender(
                        f"http://127.0.0.1:{port}/api/license/activate",
                        _fresh_activation_script(folder / f"{label}-activate.lua", dep),
                        process.pid,
                    )

        def sampler(contender: Contender) -> Callable[[], float]:
            def sample() -> float:
                result = contender.timed_run(seconds, warmup, CONNECTIONS)
                ctx.log(f"server: {contender.progress()}")
                return 1.0 / result.requests_per_s

            return sample

        def measure(what: str, group: dict[str, Contender]) -> None:
            ctx.log(f"server: {len(group)} {what} × {rounds} round(s) of {seconds:.0f} s")
            samplers = {name: sampler(c) for name, c in group.items()}
            interleaved_rounds(samplers, rounds, warmup_rounds=0)

        # The reads first, the writes last: an activation run leaves work behind (fsyncs,
        # PostgreSQL's dirty buffers and WAL) that would slow whichever run came next.
        writes = {name: c for name, c in contenders.items() if "-activate-" in name}
        ctx.log("server: flushing the imports' writes (PostgreSQL CHECKPOINT, sync)")
        for problem in settle(deployments.values()):
            ctx.log(f"server: {problem} (the runs go on; the first ones may be slower)")
        measure("configurations", {n: c for n, c in contenders.items() if n not in writes})
        paced = _paced_contenders(contenders, deployments, backends, folder)
        measure("paced configurations", paced)
        measure("activation configurations", writes)
        rows += _rows(ctx, contenders, backends, skipped)
        rows += [_paced_row(name, paced[name], contenders[name]) for name in paced]
        for backend in backends:
            big_run = contenders.get(f"{backend}-1m-w2")
            if big_run is None or big_run.pid is None:
                continue
            parts = [resident_parts(pid) for pid in worker_pids(big_run.pid)]
            largest = max(parts, key=lambda part: part["VmRSS"])
            sizes = [part["VmRSS"] for part in parts]
            mib = {name: value / 2**20 for name, value in largest.items()}
            rows.append(
                CaseResult(
                    GROUP,
                    f"memory: RSS of one server process after the {_count(big_run)} run "
                    f"({BACKEND_LABEL[backend]})",
                    "RSS",
                    None,
                    "",
                    None,
                    None,
                    None,
                    Status.INFO,
                    f"{mib['VmRSS']:.0f} MiB (largest of {len(sizes)} worker(s)): "
                    f"{mib.get('RssAnon', 0):.0f} MiB its own, {mib.get('RssFile', 0):.0f} MiB "
                    "mapped files (database pages shared with the OS page cache)",
                    {
                        "rss_bytes": sizes,
                        "rss_parts": parts,
                        "display": {"measured": f"{mib['VmRSS']:.0f} MiB"},
                    },
                )
            )
        rows += measure_offline_issuance(ctx, deployments["sqlite-1k"], GROUP)
    return rows


def _constant(path: Path) -> Callable[[], Path]:
    return lambda: path


def _fresh_activation_script(path: Path, dep: Deployment) -> Callable[[], Path]:
    """Each wrk run gets new device IDs, so every request really takes a seat."""

    def make() -> Path:
        tag = uuid.uuid4().hex[:10]
        return activate_script(path, dep.token, dep.product_name, ACTIVATION_LICENSES, tag)

    return make
