"""SIGTERM: ``exisone-server serve`` finishes the requests in flight, stops its background
workers (webhooks, e-mail) and exits 0, with nothing logged as an error."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from exisone_server.config import Settings, sqlite_url
from tests import support
from tests.support import cli, environment

from .conftest import TEST_MASTER_KEY
from .slow_app import SLOW_PATH

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
SLOW_S = 3.0


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_requests_in_flight(tmp_path: Path, workers: int) -> None:
    settings = Settings(
        tmp_path / "data",
        sqlite_url(tmp_path / "data" / "exisone.db"),
        master_key=TEST_MASTER_KEY.generate_base64(),
    )
    env = environment(settings, {"PYTHONPATH": str(REPOSITORY)})  # the test's app factory
    server = support.start_server(
        "--workers",
        str(workers),
        "--app-factory",
        "tests.server.slow_app:app_from_env",
        command=cli(settings),
        env=env,
        log_path=tmp_path / "server.log",
    )
    try:
        server.wait_until_up("/health/live")
        answers: list[httpx.Response | Exception] = []

        def slow_request() -> None:
            try:
                answers.append(
                    httpx.get(f"{server.url}{SLOW_PATH}?seconds={SLOW_S}", timeout=SLOW_S + 20)
                )
            except Exception as exc:  # reported below
                answers.append(exc)

        thread = threading.Thread(target=slow_request)
        started = time.monotonic()
        thread.start()
        time.sleep(1.0)  # the request is in flight
        os.kill(server.process.pid, signal.SIGTERM)
        signalled = time.monotonic() - started
        thread.join(SLOW_S + 25)
        code = server.process.wait(30)
        stopped = time.monotonic() - started
    finally:
        server.stop()
    log = server.output()
    print(
        f"{workers} worker(s): SIGTERM {signalled:.1f} s into a {SLOW_S:.0f} s request; "
        f"answered {answers}, server exited {code} after {stopped:.1f} s"
    )
    (answer,) = answers
    assert isinstance(answer, httpx.Response), f"{answer!r}\n{log}"
    assert answer.status_code == 200 and answer.json() == {"slept": SLOW_S}
    assert code == 0, log
    assert stopped >= SLOW_S  # it waited for the request
    assert log.count("webhook worker stopped") == workers, log
    assert log.count("mail worker stopped") == workers, log
    assert "Traceback" not in log and "ERROR" not in log, log
