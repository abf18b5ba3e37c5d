"""Failed dashboard logins: the per-IP block, pacing per account (and IP) that never locks, and
known devices that skip it; counters in the database, with a fake clock (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from exisone_server.db import Database
from exisone_server.models import RateLimitCounter
from exisone_server.security import (
    LoginLimitSettings,
    RateLimited,
    check_login,
    login_retry_after,
    record_login_failure,
)

#: The start of a login window (a multiple of 900 and of every pace slot length).
START = 1_800_000_000 - 1_800_000_000 % 3600


async def _fail(
    database: Database,
    settings: LoginLimitSettings,
    ip: str,
    email: str,
    now: float,
    times: int = 1,
    device: str | None = None,
) -> None:
    for _ in range(times):
        await record_login_failure(database, ip, email, device=device, settings=settings, now=now)


async def test_an_ip_is_blocked_after_its_failures_for_any_account(database: Database) -> None:
    settings = LoginLimitSettings(per_ip=4, per_email_and_ip=0, per_email=0)
    for n in range(4):
        assert (
            await login_retry_after(
                database, "10.9.0.1", f"a{n}@x.com", settings=settings, now=START
            )
            is None
        )
        await _fail(database, settings, "10.9.0.1", f"a{n}@x.com", START)
    wait = await login_retry_after(
        database, "10.9.0.1", "new@x.com", settings=settings, now=START + 100
    )
    assert wait == 800  # until the 900 s window ends
    with pytest.raises(RateLimited) as raised:
        await check_login(database, "10.9.0.1", "new@x.com", settings=settings, now=START + 100)
    assert raised.value.status_code == 429 and raised.value.headers["Retry-After"] == "800"
    # another IP is not concerned; the next window starts over
    assert (
        await login_retry_after(database, "10.9.0.2", "new@x.com", settings=settings, now=START)
        is None
    )
    assert (
        await login_retry_after(
            database, "10.9.0.1", "new@x.com", settings=settings, now=START + 900
        )
        is None
    )


async def test_an_account_is_paced_never_locked(database: Database) -> None:
    """After the free failures, each further one doubles the slot, up to the cap: the longest
    wait is the cap however many failures there were."""
    settings = LoginLimitSettings(per_ip=0, per_email_and_ip=0, per_email=3, backoff_max_seconds=8)
    email = "Owner@Example.com"
    await _fail(database, settings, "10.9.1.1", email, START, times=3)
    assert (
        await login_retry_after(database, "10.9.1.2", email, settings=settings, now=START) is None
    )
    waits = []
    now = float(START)
    for _ in range(6):
        await _fail(database, settings, "10.9.1.3", email, now)
        wait = await login_retry_after(
            database, "10.9.1.4", "owner@example.com", settings=settings, now=now
        )
        assert wait is not None
        waits.append(wait)
        now += wait  # the next slot: free again
        assert (
            await login_retry_after(database, "10.9.1.4", email, settings=settings, now=now) is None
        )
    # slots of 1, 2, 4, 8, 8, 8 s aligned on multiples of their length (the 2-s slot holding
    # START + 1 ends at START + 2)
    assert waits == [1, 1, 2, 4, 8, 8]
    await _fail(database, settings, "10.9.1.3", email, now, times=40)
    assert await login_retry_after(database, "10.9.1.4", email, settings=settings, now=now) == 8


async def test_an_unknown_email_is_paced_like_a_real_one(database: Database) -> None:
    settings = LoginLimitSettings(per_ip=0, per_email_and_ip=2, per_email=0, backoff_max_seconds=60)
    answers = []
    for email in ("real-user@example.com", "nobody-has-this@example.com"):
        await _fail(database, settings, "10.9.2.1", email, START + 7, times=5)
        answers.append(
            await login_retry_after(database, "10.9.2.1", email, settings=settings, now=START + 7)
        )
    assert answers[0] == answers[1] == 1  # slot of 4 s: 4 - 7 % 4


async def test_one_ip_cannot_slow_the_owner_at_another(database: Database) -> None:
    """With the defaults, everything one address can do (until its own block) paces only that
    address: the owner elsewhere is never held back."""
    settings = LoginLimitSettings()
    email = "target@example.com"
    for now in range(START, START + 800):  # one attempt a second, whenever one is let through
        if await login_retry_after(database, "198.51.100.7", email, settings=settings, now=now):
            continue
        await _fail(database, settings, "198.51.100.7", email, now)
        owner = await login_retry_after(database, "203.0.113.5", email, settings=settings, now=now)
        assert owner is None
    counted = await database_count(database, "ip:198.51.100.7")
    assert counted == settings.per_ip  # the attacker used every attempt it had
    wait = await login_retry_after(database, "198.51.100.7", email, settings=settings, now=now)
    assert wait is not None and wait > settings.backoff_max_seconds  # its own IP is blocked
    assert (
        await login_retry_after(database, "203.0.113.5", email, settings=settings, now=now) is None
    )


async def test_many_ips_pace_the_account_but_not_its_known_devices(database: Database) -> None:
    settings = LoginLimitSettings(
        per_ip=20, per_email_and_ip=5, per_email=10, backoff_max_seconds=60
    )
    email = "busy@example.com"
    for n in range(30):
        await _fail(database, settings, f"192.0.2.{n}", email, START + 30)
    wait = await login_retry_after(
        database, "203.0.113.9", email, settings=settings, now=START + 30
    )
    assert wait is not None and wait <= 60
    assert (
        await login_retry_after(
            database, "203.0.113.9", email, device="42:abc", settings=settings, now=START + 30
        )
        is None
    )
    # a known device has failures of its own; past them it counts as unknown
    await _fail(database, settings, "203.0.113.9", email, START + 30, times=5, device="42:abc")
    assert (
        await login_retry_after(
            database, "203.0.113.9", email, device="42:abc", settings=settings, now=START + 30
        )
        == wait
    )


async def test_old_windows_are_deleted(database: Database) -> None:
    settings = LoginLimitSettings()
    await _fail(database, settings, "10.9.3.1", "old@example.com", START)
    await _fail(database, settings, "10.9.3.2", "new@example.com", START + 2000)
    assert await database_count(database, "ip:10.9.3.1") == 0
    assert await database_count(database, "ip:10.9.3.2") == 1


async def database_count(database: Database, key: str) -> int:
    async with database.read() as connection:
        total = await connection.scalar(
            select(func.coalesce(func.sum(RateLimitCounter.count), 0)).where(
                RateLimitCounter.scope == "login", RateLimitCounter.key == key
            )
        )
    return int(total or 0)


def test_login_limits_come_from_the_environment() -> None:
    settings = LoginLimitSettings.from_env(
        {
            "EXISONE_RATE_LIMIT_LOGIN_WINDOW_SECONDS": "600",
            "EXISONE_RATE_LIMIT_LOGIN_PER_IP": "0",
            "EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL_AND_IP": "3",
            "EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL": "40",
            "EXISONE_RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS": "30",
        }
    )
    assert settings == LoginLimitSettings(600, 0, 3, 40, 30)
    assert LoginLimitSettings.from_env({}) == LoginLimitSettings(900, 20, 5, 50, 60)
    with pytest.raises(ValueError, match="EXISONE_RATE_LIMIT_LOGIN_PER_IP"):
        LoginLimitSettings.from_env({"EXISONE_RATE_LIMIT_LOGIN_PER_IP": "many"})
    with pytest.raises(ValueError, match="BACKOFF_MAX_SECONDS"):
        LoginLimitSettings(backoff_max_seconds=0)
