"""Logs cannot be forged or read for keys: a real ``exisone-server serve`` writes one access line
per request, with control characters escaped, activation keys and offline codes masked and
query values left out, as text or JSON lines; the server's other log lines are one line per
record too, and database errors never carry the statement's parameters."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.errors import log_unexpected
from exisone_server.kit.access_log import AccessLog, with_access_log
from exisone_server.kit.log_safety import SafeFormatter, escape, mask_path, mask_query

from .security_servers import demo as demo_data
from .security_servers import running

#: The start of an access line in the text format.
ACCESS_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def _raw_get(url: str, target: str, token: str = "") -> int:
    """Send ``GET target`` as written (no client re-encoding); the answer's status."""
    host, port = url.removeprefix("http://").split(":")
    auth = f"Authorization: ExisOneApi {token}\r\n" if token else ""
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode("latin-1"))
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def _offline_code(url: str, token: str, key: str) -> str:
    import httpx

    response = httpx.post(
        f"{url}/api/license/offline-code",
        json={"activationKey": key, "hardwareId": "LOG-TEST-DEVICE"},
        headers={"Authorization": f"ExisOneApi {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["offlineCode"])


def _requests(demo: dict[str, str], code: str) -> list[tuple[str, str]]:
    """(request target as sent, the path or query text its access line must show)."""
    key = demo["corporateKey"]
    tail = key[-4:]
    return [
        (f"/api/license/{key}/usage", f"/api/license/****-****-****-{tail}/usage"),
        (f"/api/license/{key.lower()}/usage", f"/api/license/****-****-****-{tail}/usage"),
        (f"/api/license/{key.replace('-', '')}", f"/api/license/****-****-****-{tail}"),
        (
            "/api/%0D%0AINFO:%20forged%20line%0A2026-01-01T00:00:00.000Z%20x",
            "/api/\\x0d\\x0aINFO: forged line\\x0a2026-01-01T00:00:00.000Z x",
        ),
        ("/api/%00binary%1B[31m%E2%80%AEtxt", "/api/\\x00binary\\x1b[31m\\u202etxt"),
        ("/api/%22quoted%22%5C", "/api/\\x22quoted\\x22\\x5c"),
        (f"/api/license?q={key}&email=a%40example.com&page=1", "/api/license?q=*&email=*&page=*"),
        (f"/api/license/{code}/usage", f"/api/license/****...{code.replace('-', '')[-4:]}/usage"),
        (f"/dashboard/keys/{key}", f"/dashboard/keys/****-****-****-{tail}"),
    ]


def _access_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ACCESS_LINE.match(line)]


def _all_logged(count: int) -> Callable[[str], bool]:
    return lambda output: sum(map(_sent_by_the_test, output.splitlines())) >= count


def _sent_by_the_test(line: str) -> bool:
    """An access line (text or JSON) of one of the test's GET requests (not /health)."""
    text_form = "GET /api/" in line or "GET /dashboard/" in line
    return (text_form or '"method":"GET"' in line) and "/health" not in line


def test_every_request_is_one_escaped_line_with_keys_masked(settings: Settings) -> None:
    demo = demo_data(settings)
    with running(settings, 1) as (server,):
        code = _offline_code(server.url, demo["accessToken"], demo["singleDeviceKey"])
        sent = _requests(demo, code)
        statuses = [_raw_get(server.url, target, demo["accessToken"]) for target, _ in sent]
        output = server.output_when(_all_logged(len(sent)))

    assert all(status < 500 for status in statuses), statuses
    lines = [line for line in _access_lines(output) if _sent_by_the_test(line)]
    assert len(lines) == len(sent), output
    for line, (_, shown), status in zip(lines, sent, statuses, strict=True):
        assert f'127.0.0.1 "GET {shown} HTTP/1.1" {status} ' in line, (line, shown)
        assert re.search(r" \d+ \d+\.\dms$", line), line
    for secret in (demo["corporateKey"], demo["corporateKey"].lower(), code, "a@example.com"):
        assert secret not in output
    assert demo["corporateKey"].replace("-", "") not in output
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", output), "raw control characters"
    assert not any(
        line.startswith(("INFO: forged", "2026-01-01T00:00:00.000Z x"))
        for line in output.splitlines()
    )


def test_json_lines_parse_and_carry_the_same_fields(settings: Settings) -> None:
    demo = demo_data(settings)
    with running(settings, 1, "--access-log", "json") as (server,):
        code = _offline_code(server.url, demo["accessToken"], demo["singleDeviceKey"])
        sent = _requests(demo, code)
        statuses = [_raw_get(server.url, target, demo["accessToken"]) for target, _ in sent]
        output = server.output_when(_all_logged(len(sent)))

    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert all(set(json.loads(line)) >= {"time", "path", "status"} for line in lines), lines
    records = [json.loads(line) for line in lines if _sent_by_the_test(line)]
    assert len(records) == len(sent), output
    for record, (_, shown), status in zip(records, sent, statuses, strict=True):
        path, _, query = shown.partition("?")
        assert record["path"] == path and record.get("query", "") == query, (record, shown)
        assert (record["method"], record["http"], record["status"]) == ("GET", "1.1", status)
        assert record["client"] == "127.0.0.1" and record["bytes"] >= 0 and record["ms"] >= 0
        assert ACCESS_LINE.match(record["time"] + " ")
    assert demo["corporateKey"] not in output and code not in output


def test_no_access_log_above_info_or_when_off(settings: Settings) -> None:
    for args, env in ((("--log-level", "warning"), None), ((), {"EXISONE_ACCESS_LOG": "off"})):
        with running(settings, 1, *args, env=env) as (server,):
            assert _raw_get(server.url, "/api/nothing-here") == 404
        output = server.output()  # once stopped, so that no batch of lines is still waiting
        assert "/api/nothing-here" not in output, output
        assert not _access_lines(output)


# -- the other log lines ----------------------------------------------------------------------


def test_an_unexpected_error_is_logged_as_one_record_with_the_key_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s:     %(name)s: %(message)s"))
    logger = logging.getLogger("exisone_server")
    logger.addHandler(handler)
    key = "7KQ2-M9XD-3B4T-ZR8P"
    try:
        try:
            raise ValueError("bad value\r\nERROR:     exisone_server: forged\x00\x1b[2J")
        except ValueError as exc:
            log_unexpected("GET", f"/api/license/{key}/usage\r\nERROR: forged", exc)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    lines = written.rstrip("\n").split("\n")
    assert lines[0] == (
        "ERROR:     exisone_server: unhandled error on GET "
        "/api/license/****-****-****-ZR8P/usage\\x0d\\x0aERROR: forged"
    )
    assert all(line.startswith("| ") for line in lines[1:]), lines
    assert lines[-2:] == [  # the forged "record" is a continuation line of the traceback
        "| ValueError: bad value\\x0d",
        "| ERROR:     exisone_server: forged\\x00\\x1b[2J",
    ]
    assert key not in written and "\x00" not in written and "\x1b" not in written
    assert "\r" not in written


async def test_database_errors_never_show_the_statements_parameters(settings: Settings) -> None:
    database = Database.from_settings(settings)
    key = "7KQ2-M9XD-3B4T-ZR8P"
    try:
        async with database.read() as connection:
            with pytest.raises(Exception) as raised:  # SQLite's and PostgreSQL's errors differ
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE k = :k"), {"k": key}
                )
    finally:
        await database.dispose()
    assert "no_such_table" in str(raised.value)
    assert key not in str(raised.value)


@pytest.mark.parametrize(
    ("text_in", "escaped", "strict"),
    [
        ("plain /api/x", "plain /api/x", "plain /api/x"),
        ("a\r\nb\x00\x7f", "a\\x0d\\x0ab\\x00\\x7f", "a\\x0d\\x0ab\\x00\\x7f"),
        ('q"\\', 'q"\\', "q\\x22\\x5c"),
        ("bidi\u202eé\U000e0001", "bidi\\u202eé\\U000e0001", "bidi\\u202eé\\U000e0001"),
    ],
)
def test_escape(text_in: str, escaped: str, strict: str) -> None:
    assert escape(text_in) == escaped
    assert escape(text_in, strict=True) == strict


def test_masking_leaves_other_paths_and_query_names_alone() -> None:
    assert mask_path("/api/license/validate") == "/api/license/validate"
    assert mask_path("/api/product/12/plans") == "/api/product/12/plans"
    assert mask_path("/dashboard/static/dashboard.css") == "/dashboard/static/dashboard.css"
    assert mask_path("/api/license/ABCD-EFGH-JKMN-PQRS") == "/api/license/****-****-****-PQRS"
    assert mask_query(b"") == ""
    assert mask_query(b"page=2&flag&q=ABCD-EFGH-JKMN-PQRS") == "page=*&flag&q=*"


@pytest.mark.parametrize("form", [AccessLog.TEXT, AccessLog.JSON])
async def test_repeated_requests_each_get_their_own_fields(form: AccessLog) -> None:
    """A route's line start is kept between requests; what differs per request (client,
    version, status, size) and a query never come from a kept one."""
    stream = io.StringIO()
    logger = logging.getLogger(f"exisone_server.access.test_repeat_{form.value}")
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = 404 if scope["client"][0] == "10.0.0.2" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * status, "more_body": False})

    async def nothing(message: dict[str, Any]) -> None:
        return None

    logged = with_access_log(app, form, logger)
    requests = [
        ("10.0.0.1", "1.1", b""),
        ("10.0.0.1", "1.1", b""),
        ("10.0.0.2", "1.1", b""),
        ("10.0.0.1", "2", b""),
        ("10.0.0.1", "1.1", b"page=2"),
    ]
    for client, version, query in requests:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/license/validate",
            "query_string": query,
            "http_version": version,
            "client": (client, 5000),
        }
        await logged(scope, None, nothing)

    lines = stream.getvalue().splitlines()
    assert len(lines) == len(requests)
    for line, (client, version, query) in zip(lines, requests, strict=True):
        status, size = (404, 404) if client == "10.0.0.2" else (200, 200)
        if form is AccessLog.TEXT:
            target = "/api/license/validate" + ("?page=*" if query else "")
            assert f' {client} "POST {target} HTTP/{version}" {status} {size} ' in line, line
        else:
            record = json.loads(line)
            assert (record["client"], record["http"], record["status"]) == (client, version, status)
            assert record["bytes"] == size and record.get("query", "") == (
                "page=*" if query else ""
            )
