"""Databases for the load runs: a demo tenant, then N licenses with 2 devices each, imported by
``exisone-server license import`` (the bulk path), plus licenses for activation runs.

License ``i`` (1-based) has key ``BNCH-xxxx-xxxx-xxxx`` (``i`` in 12 digits) and the devices
``HW<i>A`` and ``HW<i>B``; the wrk scripts derive the same values from a random ``i``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ACTIVATION_LICENSES",
    "Deployment",
    "DeploymentError",
    "NotLoaded",
    "activation_key",
    "both_databases",
    "deployment",
    "license_key",
    "postgres_admin_url",
    "settle",
]

#: Corporate licenses (many seats each) that the activation runs add devices to.
ACTIVATION_LICENSES = 1_000
ACTIVATION_SEATS = 100_000_000


class DeploymentError(RuntimeError):
    """A database could not be prepared (the message says which step failed)."""


class NotLoaded(DeploymentError):
    """A database the run needs could not be loaded; ``label`` says which."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


def license_key(index: int) -> str:
    digits = f"{index:012d}"
    return f"BNCH-{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"


def activation_key(index: int) -> str:
    return f"ACTV-0000-0000-{index:04d}"


def postgres_admin_url() -> str:
    return os.environ.get(
        "EXISONE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


@dataclass(frozen=True)
class Deployment:
    """A migrated, loaded database and what a client needs to use it."""

    backend: str
    licenses: int
    env: dict[str, str]
    token: str
    tenant_id: int
    product_name: str
    import_seconds: float
    imported_rows: int


def _run(executable: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(executable), *args], env=env, capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise DeploymentError(f"exisone-server {args[0]} failed: {lines[-1]}")
    return done.stdout


def _write_csv(path: Path, licenses: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("activationKey,email,expirationDate,maxSeats,hardwareIds\n")
        for index in range(1, licenses + 1):
            out.write(
                f"{license_key(index)},u{index}@example.com,2099-12-31,2,HW{index}A;HW{index}B\n"
            )
        for index in range(1, ACTIVATION_LICENSES + 1):
            out.write(f"{activation_key(index)},a{index}@example.com,,{ACTIVATION_SEATS},\n")


@contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    admin = postgres_admin_url()
    name = f"exisone_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise DeploymentError(f"PostgreSQL not available: {str(exc).strip()[:200]}") from exc
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def deployment(executable: Path, folder: Path, backend: str, licenses: int) -> Iterator[Deployment]:
    """A fresh database of ``backend`` with ``licenses`` imported; removed afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EXISONE_DATA_DIR": str(folder)}
    env.pop("EXISONE_DATABASE_URL", None)
    with _maybe_postgres(backend) as url:
        if url:
            env["EXISONE_DATABASE_URL"] = url
        _run(executable, env, "migrate")
        demo = json.loads(_run(executable, env, "demo", "--json", "--no-migrate"))
        csv_path = folder / "licenses.csv"
        _write_csv(csv_path, licenses)
        started = time.perf_counter()
        imported = json.loads(
            _run(
                executable,
                env,
                "license",
                "import",
                "--tenant",
                str(demo["tenantId"]),
                "--product",
                demo["productName"],
                "--json",
                str(csv_path),
            )
        )
        seconds = time.perf_counter() - started
        csv_path.unlink()
        yield Deployment(
            backend=backend,
            licenses=licenses,
            env=env,
            token=demo["accessToken"],
            tenant_id=int(demo["tenantId"]),
            product_name=demo["productName"],
            import_seconds=seconds,
            imported_rows=int(imported["licenses"]) + int(imported["activations"]),
        )


@contextmanager
def _maybe_postgres(backend: str) -> Iterator[str | None]:
    if backend != "postgresql":
        yield None
        return
    with _postgres_database() as url:
        yield url


def settle(deployments: Iterable[Deployment]) -> list[str]:
    """Write the imports' data to disk now, before any timed run; return what could not be done.

    A bulk import leaves hundreds of MB for PostgreSQL's next checkpoint and the kernel's
    write-back, which otherwise land, a minute later, in whichever run is then being timed
    (a 1M PostgreSQL run dropped from ~12k to ~9k req/s while 290 MiB were written back).
    One ``CHECKPOINT`` on the server the PostgreSQL deployments were made on (it covers all
    its databases; it needs a superuser or ``pg_checkpoint``), then ``sync``.
    """
    import psycopg

    problems = []
    if any(dep.backend == "postgresql" for dep in deployments):
        try:
            with psycopg.connect(postgres_admin_url(), autocommit=True, connect_timeout=5) as db:
                db.execute("CHECKPOINT")
        except psycopg.Error as exc:
            problems.append(f"CHECKPOINT failed: {str(exc).strip()[:200]}")
    os.sync()
    return problems


def vacuum_analyze(deployments: Iterable[Deployment]) -> list[str]:
    """``VACUUM (ANALYZE)`` each PostgreSQL deployment's database, as autovacuum would on a
    server that has it on; return what could not be done.

    This machine's PostgreSQL runs with autovacuum off. A table that a load fills (tens of
    thousands of leases) then keeps the statistics of an empty table and every dead row
    version, and the plans psycopg prepared while it was small stay in use: a seat count read
    the whole table and heartbeats fell to half until the next ``ANALYZE``.
    """
    import psycopg

    problems = []
    for dep in deployments:
        if dep.backend != "postgresql":
            continue
        url = dep.env["EXISONE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
                db.execute("VACUUM (ANALYZE)")
        except psycopg.Error as exc:
            problems.append(f"VACUUM (ANALYZE) failed: {str(exc).strip()[:200]}")
    return problems


def load_deployments(
    stack: ExitStack,
    executable: Path,
    folder: Path,
    wanted: Sequence[tuple[str, str, int]],
    log: Callable[[str], None],
    group: str,
) -> tuple[dict[str, Deployment], dict[str, str]]:
    """The deployments ``wanted`` (label, backend, licenses), open until ``stack`` closes, by
    label, and the backends skipped (name → why): PostgreSQL when it cannot be had outside CI
    (its other sizes are then not tried). Raises :class:`NotLoaded` (naming the label) for any
    other database that fails."""
    deployments: dict[str, Deployment] = {}
    skipped: dict[str, str] = {}
    for label, backend, licenses in wanted:
        if backend in skipped:
            continue
        log(f"{group}: loading {label} ({licenses:,} licenses, {2 * licenses:,} activations)")
        try:
            deployments[label] = stack.enter_context(
                deployment(executable, folder / label, backend, licenses)
            )
        except DeploymentError as exc:
            if backend == "postgresql" and os.environ.get("CI", "") != "true":
                skipped[backend] = str(exc)
                continue
            raise NotLoaded(label, str(exc)) from exc
    return deployments, skipped


def both_databases(
    stack: ExitStack,
    executable: Path,
    folder: Path,
    licenses: int,
    log: Callable[[str], None],
    group: str,
) -> tuple[dict[str, Deployment], dict[str, str]]:
    """:func:`load_deployments` of ``licenses`` on SQLite and on PostgreSQL, by backend."""
    wanted = [(backend, backend, licenses) for backend in ("sqlite", "postgresql")]
    return load_deployments(stack, executable, folder, wanted, log, group)
