"""Refused dashboard logins tell nothing about which accounts exist (same page, same time), and
no stranger can keep an account's owner out (in-process, SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select

from exisone_server.dashboard.accounts import set_password
from exisone_server.dashboard.known_device import KNOWN_DEVICE_COOKIE, device_of
from exisone_server.models import DashboardUser
from exisone_server.security import login_limits

from ..server.seeding import Seed
from .helpers import PASSWORD, csrf_of, make_user, submit_login

_CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]+"')


@asynccontextmanager
async def client_at(app: object, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser at client IP ``ip`` (its own cookie jar)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        yield browser


def _comparable(answer: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    """Status, headers and body with the (random) CSRF tokens taken out."""
    headers = [
        (name, "" if name == "set-cookie" else value)
        for name, value in answer.headers.multi_items()
        if name not in ("date",)
    ]
    cookies = sorted(value.split("=", 1)[0] for value in answer.headers.get_list("set-cookie"))
    return (
        answer.status_code,
        [*headers, ("cookies", ",".join(cookies))],
        _CSRF_VALUE.sub("CSRF", answer.text),
    )


@pytest.fixture
def frozen_login_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """The login limits' clock held at a quarter past the start of the current second: paced
    slots and counting windows are aligned to the clock, so a test running across the end of
    one would see a fresh slot."""
    moment = int(time.time()) + 0.25
    monkeypatch.setattr(login_limits, "time", SimpleNamespace(time=lambda: moment))
    return moment


def _no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL_AND_IP", "0")
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL", "0")


async def test_a_wrong_password_and_an_unknown_email_get_the_same_page_every_time(
    seed: Seed, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also past the fifth failure (where the account used to be locked, with its own message)."""
    _no_pacing(monkeypatch)
    email = await make_user(seed.database, seed.tenant.id)
    for _ in range(8):
        wrong = await submit_login(client, email, "not the password")
        unknown = await submit_login(client, "nobody-at-all@example.com", "not the password")
        assert wrong.status_code == 401
        assert _comparable(wrong) == _comparable(unknown)
    assert (await submit_login(client, email)).status_code == 302  # never locked


@pytest.mark.usefixtures("frozen_login_clock")
async def test_paced_answers_are_the_same_for_real_and_unknown_accounts(
    seed: Seed, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL_AND_IP", "2")
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS", "600")
    email = await make_user(seed.database, seed.tenant.id)
    answers = {}
    for address in (email, "nobody-else@example.com"):
        for _ in range(3):
            assert (await submit_login(client, address, "not the password")).status_code == 401
        answers[address] = await submit_login(client, address, PASSWORD)  # right for `email`
    real, unknown = answers.values()
    assert real.status_code == 429 and 1 <= int(real.headers["retry-after"]) <= 2
    assert "Too many failed logins" in real.text
    assert _comparable(real)[2] == _comparable(unknown)[2]
    assert "exisone_session" not in client.cookies  # the right password was not even checked


async def _best_of(attempts: int, client: httpx.AsyncClient, email: str) -> float:
    """The fastest of ``attempts`` refused logins (the form's CSRF token taken from the last
    answer, so only the POST is timed)."""
    token = csrf_of((await client.get("/dashboard/login")).text)
    best = float("inf")
    for _ in range(attempts):
        form = {"csrf_token": token, "email": email, "password": "not the password"}
        started = time.perf_counter()
        answer = await client.post("/dashboard/login", data=form)
        best = min(best, time.perf_counter() - started)
        assert answer.status_code == 401
        token = csrf_of(answer.text)
    return best


async def test_a_wrong_password_and_an_unknown_email_take_the_same_time(
    seed: Seed, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both verify an argon2 hash (an unknown e-mail a dummy one); nothing is locked and so
    skipped. The fastest of several tries of each is compared (no absolute times)."""
    _no_pacing(monkeypatch)
    email = await make_user(seed.database, seed.tenant.id)
    await _best_of(6, client, email)  # past the old lockout threshold
    known, unknown = float("inf"), float("inf")
    for _ in range(4):  # alternated, so that both see the same load on a shared host
        known = min(known, await _best_of(3, client, email))
        unknown = min(unknown, await _best_of(3, client, "ghost@example.com"))
    assert max(known, unknown) / min(known, unknown) < 1.5, (known, unknown)


@pytest.mark.usefixtures("frozen_login_clock")
async def test_an_attacker_at_one_ip_cannot_keep_the_owner_out(
    seed: Seed, app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default limits but a per-IP limit of 6 (so the attacker's address is blocked within
    the test): the owner logs in from another address, and from the attacker's address with a
    known-device cookie, while the attacker is refused."""
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_IP", "6")
    email = await make_user(seed.database, seed.tenant.id)
    async with client_at(app, "198.51.100.66") as owner_before:
        assert (await submit_login(owner_before, email)).status_code == 302
        device_cookie = owner_before.cookies.get(KNOWN_DEVICE_COOKIE, path="/dashboard")
    assert device_cookie

    async with client_at(app, "198.51.100.66") as attacker:
        codes = [
            (await submit_login(attacker, email, f"guess number {n}")).status_code
            for n in range(30)
        ]
    assert codes == [401] * 6 + [429] * 24

    async with client_at(app, "203.0.113.80") as owner_elsewhere:
        assert (await submit_login(owner_elsewhere, email)).status_code == 302
    async with client_at(app, "198.51.100.66") as owner_same_network:
        owner_same_network.cookies.set(KNOWN_DEVICE_COOKIE, device_cookie, path="/dashboard")
        assert (await submit_login(owner_same_network, email)).status_code == 302
    async with client_at(app, "198.51.100.66") as attacker_again:
        assert (await submit_login(attacker_again, email)).status_code == 429  # even if right


async def test_the_known_device_cookie(seed: Seed, client: httpx.AsyncClient) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    answer = await submit_login(client, email)
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(KNOWN_DEVICE_COOKIE)
    )
    parts = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in parts and "samesite=lax" in parts and "path=/dashboard" in parts
    value = client.cookies.get(KNOWN_DEVICE_COOKIE, path="/dashboard")
    assert value
    other = await make_user(seed.database, seed.tenant.id)
    async with seed.database.write() as session:
        user = await session.scalar(select(DashboardUser).where(DashboardUser.email == email))
        assert user is not None
        assert device_of(seed.master_key, user, value) is not None
        user_id, expires, mac = value.split(".")
        assert device_of(seed.master_key, user, f"{user_id}.{int(expires) + 1}.{mac}") is None
        assert device_of(seed.master_key, user, value, now=int(expires) + 1) is None
        someone = await session.scalar(select(DashboardUser).where(DashboardUser.email == other))
        assert device_of(seed.master_key, someone, value) is None
        await set_password(session, user, "a brand new password")
        assert device_of(seed.master_key, user, value) is None  # a new password ends it
