"""Validate's row cache (fastpath.row_cache) never answers from rows a write has changed.

Two real worker processes (tests.server.validate_worker), each with its own fast reader and
cache, validate the same key; the test process (a third, with a cache of its own behind
``seed.api``) writes. Every write must be seen by the next validation of every process, and
time passing (a license's or a token's expiry) without any write too. SQLite keeps the rows;
PostgreSQL reads them every time and must answer the same.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exisone_server.auth.tokens import parse_token, revoke_access_token
from exisone_server.config import Settings
from exisone_server.fastpath.row_cache import RowCache
from exisone_server.kit.time import utc_now
from exisone_server.models import AccessToken, LicenseStatus

from .helpers import activate_body
from .seeding import Seed

REPO = Path(__file__).resolve().parents[2]


class Worker:
    """A validating process; :meth:`validate` sends one request and returns its answer."""

    def __init__(self, settings: Settings) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.server.validate_worker",
                str(settings.data_dir),
                settings.database_url,
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def validate(self, request: dict[str, str]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        assert line, "the worker died"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=20)
        if self._process.stdout is not None:
            self._process.stdout.close()


@contextmanager
def workers(settings: Settings, count: int = 2) -> Iterator[list[Worker]]:
    started = [Worker(settings) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.close()


def _everyone(pool: list[Worker], request: dict[str, str], repeat: int = 2) -> list[dict[str, Any]]:
    """Each worker's last answer to ``request`` sent ``repeat`` times (a repeat is a hit)."""
    answers = []
    for worker in pool:
        for _ in range(repeat):
            answer = worker.validate(request)
        answers.append(answer)
    return answers


async def _licensed_key(seed: Seed) -> tuple[Any, Any, dict[str, str]]:
    product = await seed.product()
    license = await seed.license(product, max_seats=2)
    response = await seed.api.post("/api/license/activate", activate_body(license, product, "D1"))
    assert response.status_code == 200, response.text
    request = {
        "authorization": seed.api.headers["Authorization"],
        "activationKey": license.activation_key,
        "hardwareId": "D1",
        "productName": product.name,
    }
    return product, license, request


def _kept(answer: dict[str, Any], at_least: int) -> bool:
    """Whether the worker answered from kept rows at least ``at_least`` times so far (SQLite);
    PostgreSQL's reader keeps none (a null count), so there is nothing to count."""
    return answer["hits"] is None or bool(answer["hits"] >= at_least)


def _statuses(answers: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(a.get("status"), a.get("reason") or a.get("error")) for a in answers]


async def test_every_process_sees_each_write_at_once(seed: Seed, settings: Settings) -> None:
    product, license, request = await _licensed_key(seed)
    body = {k: v for k, v in request.items() if k != "authorization"}
    with workers(settings) as pool:
        first = _everyone(pool, request)
        assert _statuses(first) == [("licensed", "licensed")] * 2
        assert all(_kept(answer, 1) for answer in first)  # the rows were kept (SQLite)

        await seed.update_license(license, status=LicenseStatus.SUSPENDED)
        assert _statuses(_everyone(pool, request)) == [("invalid", "license_suspended")] * 2
        assert (await seed.api.post("/api/license/validate", body)).json()["status"] == "invalid"

        await seed.update_license(license, status=LicenseStatus.ACTIVE)
        assert _statuses(_everyone(pool, request)) == [("licensed", "licensed")] * 2

        await seed.update_license(license, status=LicenseStatus.REVOKED)
        assert _statuses(_everyone(pool, request)) == [("invalid", "license_revoked")] * 2
        await seed.update_license(license, status=LicenseStatus.ACTIVE)

        deactivated = await seed.api.post(
            "/api/license/deactivate",
            {"activationKey": license.activation_key, "hardwareId": "D1"},
        )
        assert deactivated.status_code == 200, deactivated.text
        answers = _statuses(_everyone(pool, request))
        assert answers == [("invalid", "not_activated")] * 2, answers

        again = activate_body(license, product, "D1")
        assert (await seed.api.post("/api/license/activate", again)).status_code == 200
        assert _statuses(_everyone(pool, request)) == [("licensed", "licensed")] * 2

        async with seed.database.write() as session:
            public_id = parse_token(request["authorization"].split()[-1])[0]
            token = await session.scalar(
                select(AccessToken).where(AccessToken.public_id == public_id)
            )
            assert token is not None
            await revoke_access_token(session, seed.tenant.id, token.id)
        assert _statuses(_everyone(pool, request)) == [(None, "token_revoked")] * 2


async def test_expiry_is_seen_without_any_write(seed: Seed, settings: Settings) -> None:
    """The rows are kept, the rules run on every validation: an expiry passing changes the
    answer though nothing was written."""
    _, license, request = await _licensed_key(seed)
    with workers(settings) as pool:
        assert _statuses(_everyone(pool, request)) == [("licensed", "licensed")] * 2  # started
        expires = utc_now() + timedelta(seconds=2)
        await seed.update_license(license, expires_at=expires)
        token = await seed.token(expires_in=timedelta(seconds=8))
        token_expires = utc_now() + timedelta(seconds=8)  # at the latest
        own_token = {**request, "authorization": f"ExisOneApi {token}"}
        assert _statuses(_everyone(pool, request)) == [("licensed", "licensed")] * 2
        assert _statuses(_everyone(pool, own_token)) == [("licensed", "licensed")] * 2
        hits = [answer["hits"] for answer in _everyone(pool, own_token, repeat=1)]
        await asyncio.sleep((expires - utc_now()).total_seconds() + 1.1)  # to the second
        answers = _everyone(pool, request, repeat=1)
        assert _statuses(answers) == [("expired", "license_expired")] * 2
        assert all(_kept(a, (n or 0) + 1) for a, n in zip(answers, hits))  # kept rows
        await seed.update_license(license, expires_at=None)
        assert _statuses(_everyone(pool, own_token)) == [("licensed", "licensed")] * 2
        await asyncio.sleep((token_expires - utc_now()).total_seconds() + 1.1)
        answers = _everyone(pool, own_token, repeat=1)
        assert _statuses(answers) == [(None, "token_expired")] * 2
        assert all(_kept(a, (n or 0) + 1) for a, n in zip(answers, hits))


def test_rows_read_under_an_older_mark_are_not_kept() -> None:
    cache: RowCache[str] = RowCache(max_entries=2)
    assert cache.get(1, "a") is None
    cache.put(1, "a", "rows-a")
    assert cache.get(1, "a") == "rows-a"
    assert cache.get(2, "b") is None  # a new mark: everything goes
    cache.put(1, "b", "old")  # read under mark 1, which is no longer the latest
    assert cache.get(2, "b") is None and cache.get(2, "a") is None
    for key in "xyz":
        cache.put(2, key, key)
    assert cache.get(2, "x") is None and cache.get(2, "z") == "z"  # at most 2, oldest out
    assert (cache.hits, cache.misses) == (2, 5)


async def test_sqlite_reads_its_change_mark_from_the_wal_index(seed: Seed) -> None:
    """SQLite's mark is the mapped WAL-index header (no statement), and every commit of
    another connection changes it."""
    from exisone_server.fastpath import fast_reader
    from exisone_server.fastpath.reader import SqliteReader

    reader = fast_reader(seed.database)
    if not isinstance(reader, SqliteReader):
        pytest.skip("PostgreSQL keeps no rows (the tests above)")
    assert reader._wal_mark is not None
    before = reader.change_mark()
    assert reader.change_mark() == before
    product = await seed.product("Marked")
    after = reader.change_mark()
    assert after != before
    await seed.update_license(await seed.license(product), status=LicenseStatus.SUSPENDED)
    assert reader.change_mark() != after


async def test_readers_of_one_file_share_its_mapping_and_outlive_each_other(
    tmp_path: Path,
) -> None:
    """A process maps a -shm file once; a reader closing leaves it (closing a descriptor would
    drop the process's POSIX locks on the file, its other SQLite connections' included)."""
    import sqlite3

    from exisone_server.fastpath.reader import SqliteReader

    path = str(tmp_path / "shared.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    first, second = SqliteReader(path), SqliteReader(path)
    assert first._wal_mark is not None and first._wal_mark is second._wal_mark
    before = second.change_mark()
    await first.close()
    writer.execute("INSERT INTO t VALUES (1)")
    assert second.change_mark() != before  # the mapping is still there and current
    await second.close()
    writer.close()
