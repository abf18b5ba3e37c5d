"""Limits on failed dashboard logins that slow guessing without letting strangers lock anyone out.

Counters live in ``rate_limit_counters`` (scope ``login``), so every process shares them. A
login answered 429 is refused before its password is checked and is not counted. The rules
treat an e-mail nobody has exactly like a real account, so the answers say nothing about which
accounts exist.

* **Per client IP** (``ip:<ip>``): after ``per_ip`` failed logins in a window of
  ``window_seconds`` (any accounts), that IP is refused until the window ends: the attacker's
  own address gets blocked.
* **Per account and IP** (``email-ip:<e-mail>:<ip>``): the first ``per_email_and_ip`` failures
  of a window are free; after the n-th failure beyond them, that IP gets one attempt for the
  account per slot of ``min(2**(n-1), backoff_max_seconds)`` seconds.
* **Per account** (``email:<e-mail>``, all IPs together): the same pacing once the account has
  had ``per_email`` failures in the window. The default is above ``per_ip``, so one address
  alone can never slow the account's owner down; many addresses together can, by at most
  ``backoff_max_seconds`` an attempt.
* **Known devices**: a browser that logged in to the account before shows a signed cookie
  (dashboard/known_device.py); its attempts skip the rules above. It has ``per_email_and_ip``
  failures per window of its own (``device:<id>``), after which it is treated as unknown until
  the window ends.

Pacing only slows: no rule refuses an account for longer than ``backoff_max_seconds``.

==================================================  ===========================================
variable                                            meaning (default)
==================================================  ===========================================
EXISONE_RATE_LIMIT_LOGIN_WINDOW_SECONDS             length of a login counting window (900)
EXISONE_RATE_LIMIT_LOGIN_PER_IP                     failed logins per client IP and window (20)
EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL_AND_IP           failures per account from one IP (and per
                                                    known device) before that IP is paced (5)
EXISONE_RATE_LIMIT_LOGIN_PER_EMAIL                  failures per account, all IPs, before the
                                                    account is paced for unknown devices (50)
EXISONE_RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS        longest pause between paced attempts (60)
==================================================  ===========================================

A limit of 0 switches that rule off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from ..db import Database
from ..models import RateLimitCounter
from .env import env_count
from .limits import RateLimited, record_failures, retry_after, window_of

__all__ = [
    "LoginLimitSettings",
    "check_login",
    "login_retry_after",
    "record_login_failure",
]

SCOPE = "login"


@dataclass(frozen=True)
class LoginLimitSettings:
    window_seconds: int = 900
    per_ip: int = 20
    per_email_and_ip: int = 5
    per_email: int = 50
    backoff_max_seconds: int = 60

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("EXISONE_RATE_LIMIT_LOGIN_WINDOW_SECONDS must be 1 or more")
        if self.backoff_max_seconds < 1:
            raise ValueError("EXISONE_RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS must be 1 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoginLimitSettings:
        env = os.environ if environ is None else environ
        return cls(
            window_seconds=env_count(env, "RATE_LIMIT_LOGIN_WINDOW_SECONDS", 900),
            per_ip=env_count(env, "RATE_LIMIT_LOGIN_PER_IP", 20),
            per_email_and_ip=env_count(env, "RATE_LIMIT_LOGIN_PER_EMAIL_AND_IP", 5),
            per_email=env_count(env, "RATE_LIMIT_LOGIN_PER_EMAIL", 50),
            backoff_max_seconds=env_count(env, "RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS", 60),
        )

    def pace_seconds(self, failures: int, free: int) -> int:
        """The slot length after ``failures`` failures of which ``free`` are not paced (0: no
        pacing yet, or ``free`` is 0: the rule is off)."""
        beyond = failures - free
        if free == 0 or beyond < 1:
            return 0
        return min(self.backoff_max_seconds, 1 << min(beyond - 1, 30))

    def paced_keys(self, account: str, ip: str | None) -> dict[str, int]:
        """The paced counters of a login (key → its free failures)."""
        keys = {f"email:{account}": self.per_email}
        if ip:
            keys[f"email-ip:{account}:{ip}"] = self.per_email_and_ip
        return keys


def _account(email: str) -> str:
    return email.strip().lower().replace("\x00", "")[:320]


async def _counts(
    database: Database, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The counts of (key, window start) pairs of the login scope (missing: 0)."""
    if not keys:
        return {}
    async with database.read() as connection:
        rows = await connection.execute(
            select(
                RateLimitCounter.key,
                RateLimitCounter.window_start,
                RateLimitCounter.count.label("n"),
            ).where(
                RateLimitCounter.scope == SCOPE,
                RateLimitCounter.key.in_({key for key, _ in keys}),
                RateLimitCounter.window_start.in_({window for _, window in keys}),
            )
        )
        return {(row.key, int(row.window_start)): int(row.n) for row in rows}


async def login_retry_after(
    database: Database,
    ip: str | None,
    email: str,
    *,
    device: str | None = None,
    settings: LoginLimitSettings | None = None,
    now: float | None = None,
) -> int | None:
    """Seconds to wait before the next login attempt for ``email`` from ``ip``, else None.

    ``device``: the id of a known-device cookie already checked to belong to this account.
    Call before checking the password, and :func:`record_login_failure` after a wrong one.
    """
    settings = settings or LoginLimitSettings.from_env()
    moment = time.time() if now is None else now
    window = window_of(moment, settings.window_seconds)
    paced = settings.paced_keys(_account(email), ip)
    ip_key, device_key = f"ip:{ip}", f"device:{device}"
    counts = await _counts(database, [(key, window) for key in (ip_key, device_key, *paced)])
    if device is not None and (
        settings.per_email_and_ip == 0
        or counts.get((device_key, window), 0) < settings.per_email_and_ip
    ):
        return None
    waits: list[int] = []
    if ip and settings.per_ip and counts.get((ip_key, window), 0) >= settings.per_ip:
        waits.append(retry_after(moment, settings.window_seconds))
    slots: dict[tuple[str, int], int] = {}
    for key, free in paced.items():
        pace = settings.pace_seconds(counts.get((key, window), 0), free)
        if pace:
            slots[(f"pace:{pace}:{key}", window_of(moment, pace))] = pace
    taken = await _counts(database, list(slots))
    waits += [retry_after(moment, pace) for slot, pace in slots.items() if slot in taken]
    return max(waits, default=None)


async def check_login(
    database: Database,
    ip: str | None,
    email: str,
    *,
    device: str | None = None,
    settings: LoginLimitSettings | None = None,
    now: float | None = None,
) -> None:
    """Raise :class:`RateLimited` (429, ``Retry-After``) when this login must wait."""
    wait = await login_retry_after(database, ip, email, device=device, settings=settings, now=now)
    if wait is not None:
        raise RateLimited(wait, "failed logins")


async def record_login_failure(
    database: Database,
    ip: str | None,
    email: str,
    *,
    device: str | None = None,
    settings: LoginLimitSettings | None = None,
    now: float | None = None,
) -> None:
    """Count a failed login: for the known device when there is one, else for the client IP,
    the account and the account from this IP (and take their pace slots once they are paced)."""
    settings = settings or LoginLimitSettings.from_env()
    moment = time.time() if now is None else now
    window = window_of(moment, settings.window_seconds)
    if device is not None:
        await record_failures(database, SCOPE, [f"device:{device}"], window)
        return
    paced = settings.paced_keys(_account(email), ip)
    counts = await record_failures(database, SCOPE, [*paced, *([f"ip:{ip}"] if ip else [])], window)
    for key, free in paced.items():
        pace = settings.pace_seconds(counts[key], free)
        if pace:
            await record_failures(database, SCOPE, [f"pace:{pace}:{key}"], window_of(moment, pace))
    await _forget_old_windows(
        database, moment - max(settings.window_seconds, settings.backoff_max_seconds)
    )


async def _forget_old_windows(database: Database, before: float) -> None:
    """Delete the login counters of windows that started before ``before`` (all have ended)."""
    async with database.write() as session:
        await session.execute(
            delete(RateLimitCounter).where(
                RateLimitCounter.scope == SCOPE, RateLimitCounter.window_start < before
            )
        )
