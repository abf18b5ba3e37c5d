"""A PostgreSQL the server cannot reach: every endpoint answers 503 ``database_unavailable`` in
the documented shape at once (an address where nothing listens fails the connect at once; the
cluster drills cut a real host off, tests/cluster)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy.exc

from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.db import Database, connect_within, postgres_connect_args
from exisone_server.errors import database_unavailable

from .conftest import TEST_MASTER_KEY
from .helpers import check_protocol

NOBODY_LISTENS = "postgresql+psycopg://postgres@127.0.0.1:1/exisone"
TOKEN = "exo_at_abcdefghijkl_" + "s" * 43


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(tmp_path, NOBODY_LISTENS, master_key=TEST_MASTER_KEY.generate_base64())
    database = Database.from_settings(settings)
    app = create_app(settings, database=database, master_key=TEST_MASTER_KEY)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("POST", "/api/license/validate", {"activationKey": "AAAA-BBBB", "hardwareId": "HW"}),
        ("POST", "/api/license/activate", {"activationKey": "AAAA-BBBB", "hardwareId": "HW"}),
    ],
)
async def test_every_route_answers_503_at_once(
    unreachable: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    started = time.monotonic()
    answer = await unreachable.request(
        method, path, json=body, headers={"Authorization": f"ExisOneApi {TOKEN}"}
    )
    seconds = time.monotonic() - started

    check_protocol(path, answer)
    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "error": "database_unavailable",
        "message": "The database is unavailable; try again shortly.",
    }
    assert answer.headers["retry-after"] == "1"
    assert seconds < 2


def test_only_errors_that_say_the_database_cannot_answer_count() -> None:
    assert database_unavailable(psycopg.OperationalError("connection refused"))
    assert database_unavailable(sqlalchemy.exc.TimeoutError("pool"))
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", None, psycopg.OperationalError("gone"))
    assert database_unavailable(wrapped)
    locked = sqlalchemy.exc.OperationalError("BEGIN", None, Exception("database is locked"))
    assert not database_unavailable(locked)  # SQLite's busy writer stays what it was
    assert not database_unavailable(psycopg.ProgrammingError("syntax"))
    assert not database_unavailable(ValueError("x"))


def test_timeouts_reach_libpq(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "EXISONE_DATA_DIR": str(tmp_path),
            "EXISONE_DATABASE_URL": "postgresql://db/exisone",
            "EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS": "0.5",
            "EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS": "0.25",
            "EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS": "3",
        }
    )
    assert postgres_connect_args(settings) == {
        "connect_timeout": 2,  # libpq's least
        "tcp_user_timeout": 250,
        "options": "-c statement_timeout=3000",
    }
    with_options = settings.with_changes(
        database_url="postgresql+psycopg://db/exisone?options=-c%20search_path%3Dlic"
    )
    assert postgres_connect_args(with_options)["options"] == (
        "-c search_path=lic -c statement_timeout=3000"
    )
    no_limit = settings.with_changes(database_statement_timeout_seconds=0)
    assert "options" not in postgres_connect_args(no_limit)
    for name, value in [
        ("EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS", "0"),
        ("EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS", "-1"),
        ("EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS", "0"),
        ("EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS", "soon"),
    ]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({"EXISONE_DATA_DIR": str(tmp_path), name: value})


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (as a PostgreSQL whose
    packets are dropped looks to a client that got through the handshake)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_connection_that_never_answers_is_given_up_in_time(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match=r"timed out after 0\.3 s"):
        await connect_within(0.3, f"host=127.0.0.1 port={silent_server} dbname=x user=x")
    assert 0.3 <= time.monotonic() - started < 1.5  # libpq alone would wait 2 s at least


async def test_a_silent_database_answers_503_within_the_connect_timeout(
    silent_server: int, tmp_path: Path
) -> None:
    settings = Settings(
        tmp_path,
        f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/exisone",
        master_key=TEST_MASTER_KEY.generate_base64(),
        database_connect_timeout_seconds=0.3,
    )
    database = Database.from_settings(settings)
    app = create_app(settings, database=database, master_key=TEST_MASTER_KEY)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            for method, path in [("GET", "/health"), ("POST", "/api/license/validate")]:
                started = time.monotonic()
                answer = await client.request(
                    method,
                    path,
                    json={"activationKey": "AAAA-BBBB", "hardwareId": "HW"},
                    headers={"Authorization": f"ExisOneApi {TOKEN}"},
                )
                assert (answer.status_code, answer.json()["error"]) == (
                    503,
                    "database_unavailable",
                )
                assert time.monotonic() - started < 1.5
    finally:
        await database.dispose()
