"""``serve --log-format json``: every line the server writes is one JSON object (its own
loggers, granian's, and the access log with ``--access-log json``)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import httpx
import pytest

from exisone_server.config import Settings, sqlite_url
from exisone_server.kit.log_format import JsonFormatter, LogFormat, log_format_from_env
from tests import support
from tests.support import cli, environment

from .conftest import TEST_MASTER_KEY


def test_a_json_record_is_one_line_of_ascii() -> None:
    message = "forged\nINFO: line \x1b[31m \u202ereversed é"
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = logging.LogRecord(
            "exisone_server.test", logging.ERROR, __file__, 1, message, (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line and line.isascii() and "\x1b" not in line
    data = json.loads(line)
    assert data["message"] == message
    assert (data["level"], data["logger"]) == ("ERROR", "exisone_server.test")
    assert data["time"].endswith("Z") and "RuntimeError: boom" in data["exception"]
    assert log_format_from_env({}) is LogFormat.TEXT
    with pytest.raises(ValueError, match="text or json"):
        log_format_from_env({"EXISONE_LOG_FORMAT": "xml"})


@pytest.mark.slow
def test_serve_writes_json_lines(tmp_path: Path) -> None:
    settings = Settings(
        tmp_path / "data",
        sqlite_url(tmp_path / "data" / "exisone.db"),
        master_key=TEST_MASTER_KEY.generate_base64(),
    )
    with support.running_server(
        "--log-format",
        "json",
        "--access-log",
        "json",
        command=cli(settings),
        env=environment(settings),
        log_path=tmp_path / "server.log",
    ) as server:
        assert httpx.get(f"{server.url}/health/live", timeout=10).status_code == 200
        server.output_when(lambda text: "/health/live" in text)
    lines = [line for line in server.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    messages = [record.get("message", "") for record in records]
    assert any(message.startswith("exisone-server ") for message in messages)  # serve's own
    assert any("Starting granian" in message for message in messages)  # granian's
    assert any(record.get("path") == "/health/live" for record in records)  # the access log
    assert "webhook worker stopped" in messages  # the app's logger, at shutdown
