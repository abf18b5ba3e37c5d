"""The server benchmark group's pure parts: wrk output parsing, key layout, scripts, display.

No timings are asserted; the load runs are ``python -m benchmarks --only server``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmarks.report import text_table
from benchmarks.results import CaseResult, Status, Target
from benchmarks.server.dataset import Deployment, activation_key, license_key, settle
from benchmarks.server.processes import resident_bytes, resident_parts, worker_pids
from benchmarks.server.scripts import activate_script, consume_script, validate_script
from benchmarks.server.wrk import parse_wrk

WRK_OUTPUT = """\
Running 8s test @ http://127.0.0.1:8000/api/license/validate
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    1.10ms  31.52ms   72.50%
    Req/Sec    15.21k   612.33    16.10k    90.00%
  Latency Distribution
     50%    4.02ms
     75%    4.60ms
     90%    5.31ms
     99%  850.00us
  121032 requests in 8.00s, 30.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  15128.40
Transfer/sec:      3.76MB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)

    assert result.requests_per_s == pytest.approx(15128.40)
    assert result.requests == 121032
    assert result.p50 == pytest.approx(4.02e-3)  # not the stdev column's "72.50%"
    assert result.p90 == pytest.approx(5.31e-3)
    assert result.p99 == pytest.approx(850e-6)
    assert (result.socket_errors, result.non_2xx, result.errors) == (3, 4, 7)


def test_parse_wrk_without_errors_or_latency() -> None:
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 1\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 4\n", "")
    assert parse_wrk(clean).errors == 0
    with pytest.raises(ValueError, match="latency"):
        parse_wrk(WRK_OUTPUT.replace("99%", "98%"))
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("wrk: connection refused")


@pytest.mark.parametrize(
    ("index", "key"),
    [
        (1, "BNCH-0000-0000-0001"),
        (12_345, "BNCH-0000-0001-2345"),
        (1_000_000, "BNCH-0000-0100-0000"),
    ],
)
def test_license_keys_follow_the_layout_the_lua_script_builds(index: int, key: str) -> None:
    assert license_key(index) == key
    assert activation_key(7) == "ACTV-0000-0000-0007"


def test_scripts_embed_token_product_and_count(tmp_path: Path) -> None:
    validate = validate_script(tmp_path / "v.lua", 'exo_at_a_b"c', "My App", 1000).read_text()
    activate = activate_script(tmp_path / "a.lua", "tok", "App", 50, "tag1").read_text()

    assert '"ExisOneApi " .. "exo_at_a_b\\"c"' in validate
    assert 'local product = "My App"' in validate and "local n = 1000" in validate
    assert 'local tag = "tag1"' in activate and "local n = 50" in activate
    assert "delay" not in validate


def test_a_paced_script_waits_between_requests(tmp_path: Path) -> None:
    paced = validate_script(tmp_path / "p.lua", "tok", "App", 10, think_ms=12.5).read_text()
    assert "function delay()\n  return 12.500\nend" in paced


def test_the_consume_script_picks_one_of_the_keys(tmp_path: Path) -> None:
    keys = ["AAAA-0000-0000-0001", "BBBB-0000-0000-0002"]
    script = consume_script(tmp_path / "c.lua", "tok", keys, think_ms=32).read_text()
    assert 'local keys = {"AAAA-0000-0000-0001","BBBB-0000-0000-0002"}' in script
    assert "keys[math.random(1, #keys)]" in script and '"amount":1' in script
    assert "function delay()\n  return 32.000\nend" in script


def test_the_lease_scripts_heartbeat_known_leases_and_check_out_new_devices(
    tmp_path: Path,
) -> None:
    from benchmarks.server.scripts import checkout_script, heartbeat_script

    beat = heartbeat_script(tmp_path / "h.lua", "tok", ["l_a", "l_b"], think_ms=64).read_text()
    checkout = checkout_script(tmp_path / "c.lua", "tok", "App", "KEY-1", "t1", 5).read_text()

    assert 'local leases = {"l_a","l_b"}' in beat and '\'{"leaseId":"\' .. lease' in beat
    assert "function delay()\n  return 64.000\nend" in beat
    assert 'local key = "KEY-1"' in checkout and 'local tag = "t1"' in checkout
    assert '"ttlSeconds":%d' in checkout and "product, 5)" in checkout


def test_the_country_database_of_the_runs_knows_loopback(tmp_path: Path) -> None:
    import maxminddb
    from benchmarks.server.geo import write_country_database

    path = write_country_database(tmp_path / "c.mmdb", networks=50)
    with maxminddb.open_database(str(path)) as reader:
        assert reader.get("127.0.0.1") == {"country": {"iso_code": "DE"}}


def test_text_table_shows_a_groups_own_units() -> None:
    case = CaseResult(
        "server",
        "validate",
        "validate",
        1e-4,
        "fixed",
        5e-5,
        0.5,
        Target("≥ 0.50× fixed"),
        Status.PASS,
        details={"display": {"measured": "10,000 req/s", "reference": "fixed 20,000 req/s"}},
    )

    table = text_table([case])

    assert "10,000 req/s" in table and "fixed 20,000 req/s" in table


# A supervisor with two workers, shaped like ``serve --workers 2``: each worker prints its PID
# in one write (print makes two when PYTHONUNBUFFERED is set, and the workers' lines interleave).
_TREE = """
import subprocess, sys, time
worker = "import os, time; os.write(1, b'%d\\\\n' % os.getpid()); time.sleep(60)"
workers = [subprocess.Popen([sys.executable, "-c", worker]) for _ in range(2)]
time.sleep(60)
"""


def test_worker_pids_are_the_leaves_under_a_supervisor() -> None:
    supervisor = subprocess.Popen([sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert supervisor.stdout is not None
        workers = sorted(int(supervisor.stdout.readline()) for _ in range(2))

        assert sorted(worker_pids(supervisor.pid)) == workers
        assert all(resident_bytes(pid) > 1_000_000 for pid in workers)
    finally:
        for pid in worker_pids(supervisor.pid):
            os.kill(pid, signal.SIGKILL)
        supervisor.kill()
        supervisor.communicate()


def test_a_process_without_children_is_its_own_worker() -> None:
    lone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert worker_pids(lone.pid) == [lone.pid]
    finally:
        lone.kill()
        lone.wait()


def test_resident_parts_tell_mapped_file_pages_from_the_process_s_own(tmp_path: Path) -> None:
    """A process that maps and reads a 64 MiB file: its RSS grows by file-backed pages only."""
    data = tmp_path / "pages.bin"
    data.write_bytes(os.urandom(1 << 20) * 64)
    script = (
        "import mmap, sys\n"
        f"f = open({str(data)!r}, 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n"
        "print(sum(m[i] for i in range(0, len(m), 4096)), flush=True); sys.stdin.read()\n"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None
        reader.stdout.readline()  # every page of the file touched
        parts = resident_parts(reader.pid)
        assert parts["RssFile"] >= 64 << 20 > parts["RssAnon"]
        assert parts["VmRSS"] == parts["RssAnon"] + parts["RssFile"] + parts["RssShmem"]
    finally:
        reader.kill()
        reader.communicate()


def _checkpoints_requested(admin_url: str) -> int:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as connection:
        # PostgreSQL 17 moved the counter from pg_stat_bgwriter to pg_stat_checkpointer.
        query = (
            "SELECT num_requested FROM pg_stat_checkpointer"
            if connection.info.server_version >= 170000
            else "SELECT checkpoints_req FROM pg_stat_bgwriter"
        )
        row = connection.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_settle_checkpoints_the_postgresql_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the timed runs, PostgreSQL writes the imports out (one CHECKPOINT)."""
    import psycopg

    admin = os.environ.get(
        "EXISONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        before = _checkpoints_requested(admin)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({exc})")
    monkeypatch.setenv("EXISONE_BENCH_POSTGRES_URL", admin)

    problems = settle([_deployment("postgresql"), _deployment("sqlite")])

    assert problems == []
    assert _checkpoints_requested(admin) >= before + 1


def test_settle_reports_a_server_it_cannot_checkpoint_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXISONE_BENCH_POSTGRES_URL", "postgresql://nobody@127.0.0.1:1/none")
    problems = settle([_deployment("postgresql")])
    assert len(problems) == 1 and problems[0].startswith("CHECKPOINT failed")


def _deployment(backend: str) -> Deployment:
    return Deployment(backend, 1, {}, "token", 1, "App", 0.0, 0)


def _figures(rate: float, cpu_us: float | None = None, errors: int = 0) -> object:
    from benchmarks.server.cases import Contender
    from benchmarks.server.wrk import WrkResult

    contender = Contender("http://127.0.0.1:1/x", lambda: Path("unused.lua"))
    contender.results.append(WrkResult(rate, int(rate * 8), 0.004, 0.005, 0.009, errors, 0))
    if cpu_us is not None:
        contender.cpu_per_request.append(cpu_us / 1e6)
    return contender


def test_every_listed_case_a_run_measured_gets_a_ratio_to_the_bare_answer() -> None:
    """Generic: a heartbeat configuration under its listed key gets its row, with no other
    change; a case not measured gets none."""
    from benchmarks.server.references import BARE_LABEL, bare_key, ratio_rows

    measured = {
        bare_key(2): _figures(20_000, 40),
        "sqlite-activate-w2": _figures(500, 900),
        "postgresql-heartbeat-w2": _figures(5_000, 150),
    }
    rows = ratio_rows("server", measured, ["sqlite", "postgresql"])  # type: ignore[arg-type]

    assert [row.case for row in rows] == [
        f"activation throughput SQLite, 2 workers ÷ {BARE_LABEL}",
        f"lease heartbeat PostgreSQL, 2 workers ÷ {BARE_LABEL}",
    ]
    assert [row.ratio for row in rows] == [500 / 20_000, 5_000 / 20_000]
    assert all(row.status == Status.INFO for row in rows)
    assert "CPU/request 900 µs (bare ASGI 40 µs)" in rows[0].note
    assert ratio_rows("server", {"sqlite-activate-w2": _figures(1)}, ["sqlite"]) == []  # type: ignore[dict-item]


def test_a_ratio_row_with_a_floor_judges_rate_and_errors() -> None:
    from benchmarks.server.references import ratio_row

    on, off = _figures(9_500), _figures(10_000)
    assert ratio_row("server", "log", on, off, floor=0.9).status == Status.PASS  # type: ignore[arg-type]
    assert ratio_row("server", "log", _figures(8_000), off, floor=0.9).status == Status.FAIL  # type: ignore[arg-type]
    failing = ratio_row("server", "log", _figures(9_500, errors=3), off, floor=0.9)  # type: ignore[arg-type]
    assert failing.status == Status.FAIL and failing.target is not None


async def test_the_bare_app_answers_the_fixed_body_after_reading_the_request() -> None:
    from benchmarks.server.bare_app import BARE_BODY, app

    chunks = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return chunks.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/bench/bare"}, receive, send)

    assert not chunks  # the whole body was read
    assert sent[0]["status"] == 200
    assert (b"content-length", str(len(BARE_BODY)).encode()) in sent[0]["headers"]  # type: ignore[operator]
    assert sent[1]["body"] == BARE_BODY
    assert b'"isValid":true' in BARE_BODY


BUSY_THEN_IDLE = """
import time
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
time.sleep(30)
"""


def test_cpu_seconds_counts_a_process_and_its_children() -> None:
    from benchmarks.server.processes import cpu_seconds

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            BUSY_THEN_IDLE,
        ]
    )
    try:
        time.sleep(1.0)
        assert cpu_seconds(child.pid) >= 0.25
        assert cpu_seconds(os.getpid()) >= cpu_seconds(child.pid)  # the child is under us
    finally:
        child.kill()
        child.wait()
