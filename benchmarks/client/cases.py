"""The four client cases, each measured side by side with a reference in one run.

1. ``validate_offline`` against a raw RSA-2048 PKCS#1 v1.5/SHA-256 verify with a preloaded key,
   for our SDK and for the official one (each against the raw verify in its own process).
2. A warm ``generate_hardware_id()``: absolute target, with the official time for context.
3. ``import exisone`` in fresh interpreters: wall clock of ``import exisone`` minus ``pass``.
4. A full online ``validate`` round trip against a local exisone-server over HTTPS.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union

from benchmarks.client.contenders import time_in_workers
from benchmarks.client.server import ServerUnavailable, local_tls_server
from benchmarks.registry import RunContext
from benchmarks.results import CaseResult, Target, error_case, evaluate, skipped_case
from benchmarks.stats import Sampler, interleaved_rounds, median, paired_differences, ratio
from benchmarks.worker import Worker, WorkerError

__all__ = ["run_client_group"]

GROUP = "client"
WORKER_SCRIPT = Path(__file__).resolve().parent / "sdk_worker.py"

SIDES = ("ours", "official")
CA_BUNDLE_VARIABLES = frozenset({"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
OFFLINE_CASE = "validate_offline ÷ raw RSA verify"
OFFLINE_OFFICIAL_CASE = "validate_offline ÷ raw RSA verify, official SDK"
OFFLINE_FIRST_CASE = "validate_offline, first check of a code ÷ raw RSA verify"
HWID_CASE = "generate_hardware_id() warm"
IMPORT_CASE = "import exisone (fresh process)"
VALIDATE_CASE = "validate() round trip, local server"

OFFLINE_TARGET = Target("≤ 1.50× raw verify", max_ratio=1.5)
HWID_TARGET = Target("≤ 20 µs", max_seconds=20e-6)
IMPORT_TARGET = Target("≤ 20 ms", max_seconds=20e-3)
VALIDATE_TARGET = Target("≤ 1.00× official", max_ratio=1.0)

#: The hardware ID the offline code is bound to (any 64-hex string will do).
BENCH_HARDWARE_ID = hashlib.sha256(b"exisone benchmark machine").hexdigest().upper()
OFFLINE_PAYLOAD = {
    "productId": 7,
    "productName": "BenchmarkApp",
    "hardwareId": BENCH_HARDWARE_ID,
    "expirationDate": "2099-12-31T23:59:59Z",
    "email": "bench@example.com",
    "features": ["Pro", "Export"],
    "tenantId": 1,
    "version": "1.0.0",
}


class CaseError(RuntimeError):
    """A case cannot be measured; the message says why."""


Workers = dict[str, Union[Worker, str]]


def _worker(workers: Workers, name: str) -> Worker:
    worker = workers[name]
    if isinstance(worker, str):
        raise CaseError(worker)
    return worker


def _interpreters(ctx: RunContext) -> dict[str, Path]:
    return {
        "ours": ctx.repo_root / ".venv" / "bin" / "python",
        "official": ctx.repo_root / ".venvs" / "official" / "bin" / "python",
    }


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the SDK workers: without the CA-bundle variables.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a session's ``verify``, so
    with them set the official client would not trust the test CA it is given.
    """
    return {key: value for key, value in environ.items() if key not in CA_BUNDLE_VARIABLES}


def _start_workers(ctx: RunContext) -> Workers:
    """One worker per SDK; a side that cannot start is kept as its error message."""
    workers: Workers = {}
    env = worker_environment(os.environ)
    for name, python in _interpreters(ctx).items():
        try:
            worker = Worker(name, python, WORKER_SCRIPT, (name,), env)
        except WorkerError as exc:
            hint = " (run scripts/bootstrap)" if name == "official" else ""
            workers[name] = f"{exc}{hint}"
            continue
        try:
            hello = worker.call("hello")
        except WorkerError as exc:
            worker.close()
            workers[name] = f"cannot import the {name} SDK: {exc}"
            continue
        ctx.machine_details[f"{name}_sdk"] = {k: v for k, v in hello.items() if k != "ok"}
        workers[name] = worker
    return workers


def _fresh_offline_code() -> dict[str, str]:
    """An RSA-2048 key and a code issued with our codec, plus its raw payload and signature."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from exisone.protocol import encode_payload, issue_offline_code

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    payload = encode_payload(OFFLINE_PAYLOAD)
    signature = private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return {
        "public_pem": public_pem,
        "code": issue_offline_code(OFFLINE_PAYLOAD, private_key),
        "hardware_id": BENCH_HARDWARE_ID,
        "payload_hex": payload.hex(),
        "signature_hex": signature.hex(),
    }


def _setup_sides(
    workers: Workers, op: str, **params: Any
) -> tuple[dict[str, Worker], dict[str, str]]:
    """Run ``op`` in each side's worker: the sides that are ready, and why the others are not."""
    ready: dict[str, Worker] = {}
    failures: dict[str, str] = {}
    for name in SIDES:
        try:
            worker = _worker(workers, name)
            worker.call(op, **params)
        except (CaseError, WorkerError) as exc:
            failures[name] = str(exc)
            continue
        ready[name] = worker
    return ready, failures


def offline_cases(ctx: RunContext, workers: Workers) -> list[CaseResult]:
    """Case 1: ours/raw and official/raw, all four timers interleaved in the same rounds."""
    ready, failures = _setup_sides(workers, "setup_offline", **_fresh_offline_code())
    contenders = {}
    for name, worker in ready.items():
        contenders[f"{name} sdk"] = (worker, "offline_sdk")
        contenders[f"{name} raw"] = (worker, "offline_raw")
    if "ours" in ready:
        contenders["ours first"] = (ready["ours"], "offline_sdk_first")
    rounds = ctx.rounds_or(full=21, quick=3)
    samples: dict[str, list[float]] = {}
    if contenders:
        ctx.log(f"client: validate_offline, {rounds} rounds")
        samples = time_in_workers(contenders, rounds, 0.01 if ctx.quick else 0.05)
    rows = []
    for name, timer, case, target in (
        ("ours", "sdk", OFFLINE_CASE, OFFLINE_TARGET),
        ("ours", "first", OFFLINE_FIRST_CASE, OFFLINE_TARGET),
        ("official", "sdk", OFFLINE_OFFICIAL_CASE, None),
    ):
        if name in failures:
            rows.append(error_case(GROUP, case, target, failures[name]))
            continue
        sdk, raw = median(samples[f"{name} {timer}"]), median(samples[f"{name} raw"])
        share = ratio(sdk, raw)
        rows.append(
            CaseResult(
                GROUP, case, name, sdk, "raw", raw, share, target, evaluate(target, sdk, share),
                details={"rounds": rounds, "samples": {
                    key: value for key, value in samples.items() if key.startswith(name)
                }},
            )
        )  # fmt: skip
    return rows


def hwid_case(ctx: RunContext, workers: Workers) -> CaseResult:
    """Case 2: warm generate_hardware_id(), ours against the official one."""
    ready, failures = _setup_sides(workers, "setup_hwid")
    rounds = ctx.rounds_or(full=21, quick=3)
    samples: dict[str, list[float]] = {}
    if ready:
        ctx.log(f"client: generate_hardware_id, {rounds} rounds")
        contenders = {name: (worker, "hwid") for name, worker in ready.items()}
        samples = time_in_workers(contenders, rounds, 0.01 if ctx.quick else 0.05)
    medians = {name: median(values) for name, values in samples.items()}
    if "ours" in failures:
        context = (
            f" (official: {medians['official'] * 1e6:.0f} µs)" if "official" in medians else ""
        )
        return error_case(GROUP, HWID_CASE, HWID_TARGET, failures["ours"] + context)
    ours, official = medians["ours"], medians.get("official")
    share = ratio(ours, official) if official else None
    note = f"official SDK unavailable: {failures['official']}" if "official" in failures else ""
    return CaseResult(
        GROUP, HWID_CASE, "ours", ours, "official", official, share, HWID_TARGET,
        evaluate(HWID_TARGET, ours, share), note, details={"rounds": rounds, "samples": samples},
    )  # fmt: skip


def _run_python(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([str(python), "-I", *args], capture_output=True, text=True)
    if completed.returncode != 0:
        raise CaseError(f"{python} {' '.join(args)} failed: {completed.stderr.strip()[-800:]}")
    return completed


def _wall_clock(python: Path, statement: str) -> Sampler:
    def sample() -> float:
        start = time.perf_counter()
        _run_python(python, "-c", statement)
        return time.perf_counter() - start

    return sample


def importtime_cumulative(stderr: str, module: str = "exisone") -> float | None:
    """Seconds that ``-X importtime`` reports as cumulative for the top-level ``module``."""
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) == 3 and fields[2].strip() == module and fields[1].strip().isdigit():
            return int(fields[1]) / 1e6
    return None


def _importtime(python: Path) -> Sampler:
    def sample() -> float:
        completed = _run_python(python, "-X", "importtime", "-c", "import exisone")
        seconds = importtime_cumulative(completed.stderr)
        if seconds is None:
            raise CaseError(f"no 'exisone' line in -X importtime output of {python}")
        return seconds

    return sample


def import_case(ctx: RunContext) -> CaseResult:
    """Case 3: fresh interpreters, ``import exisone`` minus ``pass``, paired round by round."""
    samplers: dict[str, Callable[[], float]] = {}
    for name, python in _interpreters(ctx).items():
        if not python.exists():
            raise CaseError(f"interpreter {python} is missing (run scripts/bootstrap)")
        samplers[f"{name} import"] = _wall_clock(python, "import exisone")
        samplers[f"{name} pass"] = _wall_clock(python, "pass")
        samplers[f"{name} importtime"] = _importtime(python)
    rounds = ctx.rounds_or(full=41, quick=5)
    ctx.log(f"client: import exisone, {rounds} rounds of fresh processes")
    samples = interleaved_rounds(samplers, rounds)
    cost = {
        name: median(paired_differences(samples[f"{name} import"], samples[f"{name} pass"]))
        for name in ("ours", "official")
    }
    importtime = {name: median(samples[f"{name} importtime"]) for name in ("ours", "official")}
    share = ratio(cost["ours"], cost["official"])
    note = (
        f"-X importtime cumulative: ours {importtime['ours'] * 1e3:.1f} ms, "
        f"official {importtime['official'] * 1e3:.1f} ms"
    )
    return CaseResult(
        GROUP, IMPORT_CASE, "ours", cost["ours"], "official", cost["official"], share,
        IMPORT_TARGET, evaluate(IMPORT_TARGET, cost["ours"], share), note,
        details={"rounds": rounds, "samples": samples, "importtime_s": importtime},
    )  # fmt: skip


def validate_case(ctx: RunContext, workers: Workers) -> CaseResult:
    """Case 4: the same validate call from both clients against one local HTTPS server."""
    ours, official = _worker(workers, "ours"), _worker(workers, "official")
    try:
        with local_tls_server(ctx.repo_root / ".venv" / "bin") as server:
            tenant = server.tenant
            answers: dict[str, Any] = {}
            for name, worker in (("ours", ours), ("official", official)):
                answers[name] = worker.call(
                    "setup_validate",
                    base_url=server.base_url,
                    token=tenant.token,
                    ca_path=str(server.ca_path),
                    activation_key=tenant.activation_key,
                    hardware_id=BENCH_HARDWARE_ID,
                    product_name=tenant.product_name,
                    email=tenant.email,
                )
            if answers["ours"]["result"]["is_valid"] != answers["official"]["result"]["is_valid"]:
                raise CaseError(f"the two clients got different answers: {answers}")
            rounds = ctx.rounds_or(full=15, quick=3)
            ctx.log(f"client: validate round trip, {rounds} rounds")
            samples = time_in_workers(
                {"ours": (ours, "validate"), "official": (official, "validate")},
                rounds,
                0.02 if ctx.quick else 0.1,
            )
    except ServerUnavailable as exc:
        return skipped_case(GROUP, VALIDATE_CASE, VALIDATE_TARGET, f"server not available: {exc}")
    mine, theirs = median(samples["ours"]), median(samples["official"])
    share = ratio(mine, theirs)
    result = answers["ours"]["result"]
    note = f"validate answered isValid={result['is_valid']}, status={result['status']!r}"
    return CaseResult(
        GROUP, VALIDATE_CASE, "ours", mine, "official", theirs, share, VALIDATE_TARGET,
        evaluate(VALIDATE_TARGET, mine, share), note,
        details={"rounds": rounds, "samples": samples, "answers": answers},
    )  # fmt: skip


def _guarded(
    names: tuple[str, ...], targets: tuple[Target | None, ...], measure: Callable[[], Any]
) -> list[CaseResult]:
    """Run one case; a failure becomes ERROR rows for its cases, the other cases still run."""
    try:
        produced = measure()
    except Exception as exc:  # one broken case must not stop the others
        message = str(exc) if isinstance(exc, (CaseError, WorkerError)) else repr(exc)
        return [error_case(GROUP, name, target, message) for name, target in zip(names, targets)]
    return list(produced) if isinstance(produced, list) else [produced]


def run_client_group(ctx: RunContext) -> list[CaseResult]:
    """All client cases; each one that cannot run is reported as ERROR with the reason."""
    workers = _start_workers(ctx)
    try:
        return [
            *_guarded(
                (OFFLINE_CASE, OFFLINE_OFFICIAL_CASE),
                (OFFLINE_TARGET, None),
                lambda: offline_cases(ctx, workers),
            ),
            *_guarded((HWID_CASE,), (HWID_TARGET,), lambda: hwid_case(ctx, workers)),
            *_guarded((IMPORT_CASE,), (IMPORT_TARGET,), lambda: import_case(ctx)),
            *_guarded((VALIDATE_CASE,), (VALIDATE_TARGET,), lambda: validate_case(ctx, workers)),
        ]
    finally:
        for worker in workers.values():
            if isinstance(worker, Worker):
                worker.close()
