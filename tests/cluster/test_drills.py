"""Fault drills on the cluster bed: three app hosts behind HAProxy, a PostgreSQL primary and a
streaming replica, each its own network namespace (tests/cluster/bed.py).

The drills run in this order on one bed; the failover drill, which ends the replication, is
last. Each reports its numbers (see conftest.report).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from .bed import (
    ADDRESSES,
    APP_PORT,
    APPS,
    CHECK_INTERVAL_MS,
    DB_CONNECT_TIMEOUT_S,
    FALL,
    Bed,
    in_namespace,
    run_from,
)
from .conftest import Shop, report

pytestmark = pytest.mark.slow

#: The drills' client waits no longer than this for an answer (a hang is a failure).
CLIENT_TIMEOUT_S = 10
#: "Fails fast": a host whose link to PostgreSQL is down answers 503 within this; where the
#: packets are dropped, a new connection's connect timeout comes on top.
FAIL_FAST_S = {"route": 2.0, "drop": 2.0 + DB_CONNECT_TIMEOUT_S}
#: How HAProxy answers when no app host is up (a page, not the server's JSON).
HAPROXY_503 = {(503, "<html><body><h1>503 Service Unavailable<")}


@dataclass(frozen=True)
class Answer:
    """What the client saw for one request."""

    kind: str  # activate | validate | health
    status: int  # 0: no HTTP answer
    error: str | None
    host: str | None  # the app host HAProxy chose
    device: str
    key: str
    started: float
    seconds: float
    licensed: bool = False

    @property
    def ok(self) -> bool:
        return self.status in (200, 409)


async def call(
    client: httpx.AsyncClient, base: str, kind: str, shop: Shop, key: str, device: str
) -> Answer:
    """Activate or validate ``device`` on ``key`` at ``base``."""
    body: dict[str, Any] = {"activationKey": key, "hardwareId": device, "productName": shop.product}
    if kind == "activate":
        body["email"] = "buyer@example.com"
    started = time.monotonic()
    try:
        response = await client.post(f"{base}/api/license/{kind}", json=body, headers=shop.headers)
    except httpx.HTTPError as exc:
        return Answer(kind, 0, type(exc).__name__, None, device, key, started, _since(started))
    seconds = _since(started)
    error, licensed = None, False
    if response.headers.get("content-type", "").startswith("application/json"):
        data = response.json()
        error = data.get("error") if response.status_code >= 400 else None
        licensed = response.status_code == 200 and data.get("status") == "licensed"
    elif response.status_code >= 400:
        error = response.text.strip()[:40]
    served_by = response.headers.get("x-served-by")
    return Answer(
        kind, response.status_code, error, served_by, device, key, started, seconds, licensed
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_S,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    )


def query(
    bed: Bed, sql: str, params: tuple[Any, ...] = (), node: str = "pg1"
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a PostgreSQL node, read from the client host."""

    def read() -> list[tuple[Any, ...]]:
        with psycopg.connect(bed.admin_url(node), autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    return in_namespace("client", read)


ACTIVE_DEVICES = """
    SELECT l.activation_key, a.hardware_id FROM activations a JOIN licenses l ON l.id = a.license_id
    WHERE l.activation_key = ANY(%s) AND a.deactivated_at IS NULL
"""


def active_devices(bed: Bed, keys: Iterable[str], node: str = "pg1") -> set[tuple[str, str]]:
    return {(k, d) for k, d in query(bed, ACTIVE_DEVICES, (list(keys),), node)}


def acknowledged(answers: Iterable[Answer]) -> set[tuple[str, str]]:
    return {(a.key, a.device.upper()) for a in answers if a.kind == "activate" and a.status == 200}


class Load:
    """Steady traffic through HAProxy from the client host on a thread: ``workers`` loops, each
    alternating an activation of a new device and a validation of its last one."""

    def __init__(self, bed: Bed, shop: Shop, key: str, workers: int = 6, tag: str = "load") -> None:
        self.bed, self.shop, self.key, self.workers, self.tag = bed, shop, key, workers, tag
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: run_from("client", self._run))

    async def _run(self) -> None:
        async with client() as http:

            async def loop(worker: int) -> None:
                n = 0
                while not self._stop.is_set():
                    device = f"{self.tag}-{worker}-{n}"
                    for kind in ("activate", "validate"):
                        self.answers.append(
                            await call(http, self.bed.url, kind, self.shop, self.key, device)
                        )
                    n += 1

            await asyncio.gather(*(loop(worker) for worker in range(self.workers)))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.answers


def wait_for(condition: Any, timeout: float, step: float = 0.05) -> float | None:
    """Seconds until ``condition()`` held, or None if it never did within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return round(time.monotonic() - started, 3)
        time.sleep(step)
    return None


class StateWatch:
    """Seconds from ``since`` until HAProxy shows ``app`` in ``state`` (polled on a thread)."""

    def __init__(self, bed: Bed, app: str, state: str, since: float) -> None:
        self.seconds: float | None = None

        def watch() -> None:
            if wait_for(lambda: bed.backend_states().get(app, "").startswith(state), 15, 0.02):
                self.seconds = round(time.monotonic() - since, 3)

        self._thread = threading.Thread(target=watch)
        self._thread.start()

    def result(self, timeout: float) -> float | None:
        self._thread.join(timeout)
        return self.seconds


def direct_status(bed: Bed, app: str, path: str) -> int:
    def get() -> int:
        try:
            return httpx.get(f"http://{ADDRESSES[app]}:{APP_PORT}{path}", timeout=5).status_code
        except httpx.HTTPError:
            return 0

    return in_namespace("client", get)


def outcomes(answers: Iterable[Answer]) -> dict[str, int]:
    return dict(
        sorted(Counter(f"{a.status}{':' + a.error if a.error else ''}" for a in answers).items())
    )


# ---------------------------------------------------------------------------------------------


def test_seat_race_across_three_hosts(bed: Bed, shop: Shop) -> None:
    key = shop.license(max_seats=5)

    async def race() -> list[Answer]:
        async with client() as http:
            return await asyncio.gather(
                *(call(http, bed.url, "activate", shop, key, f"race-{n}") for n in range(40))
            )

    started = time.monotonic()
    answers = run_from("client", race)
    seconds = _since(started)
    active = active_devices(bed, [key])
    report(
        "seat race (40 activations, 5 seats, 3 hosts)",
        outcomes=outcomes(answers),
        hosts=dict(Counter(a.host for a in answers)),
        active_in_db=len(active),
        seconds=seconds,
        slowest_s=max(a.seconds for a in answers),
    )
    assert Counter(a.status for a in answers) == {200: 5, 409: 35}
    assert {a.error for a in answers if a.status == 409} == {"seat_limit_reached"}
    assert acknowledged(answers) == active
    assert len({a.host for a in answers}) == 3  # every host took part


def test_kill_9_of_a_host_in_a_burst(bed: Bed, shop: Shop) -> None:
    keys = [shop.license(max_seats=5) for _ in range(12)]
    jobs = [(key, f"burst-{k}-{d}") for d in range(8) for k, key in enumerate(keys)]
    killed: dict[str, float] = {}

    async def burst() -> list[Answer]:
        gate = asyncio.Semaphore(12)
        done = 0

        async def one(http: httpx.AsyncClient, key: str, device: str) -> Answer:
            nonlocal done
            async with gate:
                answer = await call(http, bed.url, "activate", shop, key, device)
            done += 1
            if done == len(jobs) // 4 and not killed:
                killed["at"] = time.monotonic()
                await asyncio.to_thread(bed.stop_app, "app2", signal.SIGKILL)
                down = await asyncio.to_thread(
                    wait_for,
                    lambda: bed.backend_states().get("app2", "").startswith("DOWN"),
                    10,
                    0.02,
                )
                killed["detected_s"] = -1 if down is None else down
            return answer

        async with client() as http:
            return await asyncio.gather(*(one(http, key, device) for key, device in jobs))

    try:
        answers = run_from("client", burst)
    finally:  # the later drills need the host back
        if bed.apps["app2"].poll() is not None:
            bed.start_app("app2")
            bed.wait_serving("app2")
            bed.wait_backends_up(APPS)
    active = active_devices(bed, keys)
    per_key = Counter(key for key, _ in active)
    acked = acknowledged(answers)
    after = [a for a in answers if a.started > killed["at"] + killed["detected_s"]]
    report(
        "kill -9 of app2 in a burst (96 activations, 12 keys x 5 seats)",
        outcomes=outcomes(answers),
        acknowledged=len(acked),
        acknowledged_missing_from_db=len(acked - active),
        most_seats_on_a_key=max(per_key.values()),
        haproxy_down_after_s=killed["detected_s"],
        check_interval_s=CHECK_INTERVAL_MS / 1000,
        failures_after_down=sum(not a.ok for a in after),
    )
    assert acked <= active  # every acknowledged activation is in the database
    assert max(per_key.values()) <= 5
    assert 0 < killed["detected_s"] <= (FALL + 1) * CHECK_INTERVAL_MS / 1000 + 0.5
    assert all(a.ok for a in after), outcomes(after)
    assert not [a for a in answers if a.status >= 500 and a.status != 503]  # never a 500


@pytest.mark.parametrize(
    "how",
    [pytest.param("route", id="link-down"), pytest.param("drop", id="packets-dropped")],
)
def test_a_host_cut_off_from_postgresql(bed: Bed, shop: Shop, how: str) -> None:
    key = shop.license(max_seats=50)

    async def activate_one() -> Answer:
        async with client() as http:
            return await call(http, bed.url, "activate", shop, key, "cut-known")

    assert run_from("client", activate_one).status == 200
    bed.cut_from_database("app3", how)
    cut_at = time.monotonic()
    try:
        direct = f"http://{ADDRESSES['app3']}:{APP_PORT}"

        async def on_app3() -> list[Answer]:
            async with client() as http:
                return [
                    await call(http, direct, "validate", shop, key, "cut-known"),
                    await call(http, direct, "activate", shop, key, f"cut-new-{how}"),
                    await call(http, direct, "validate", shop, key, "cut-known"),
                ]

        watch = StateWatch(bed, "app3", "DOWN", since=cut_at)
        cut_answers = run_from("client", on_app3)
        health = direct_status(bed, "app3", "/health")
        out_after = watch.result(10)

        async def through_lb() -> list[Answer]:
            async with client() as http:
                return await asyncio.gather(
                    *(
                        call(http, bed.url, kind, shop, key, f"cut-lb-{how}-{n}")
                        for n in range(20)
                        for kind in ("activate", "validate")
                    )
                )

        others = run_from("client", through_lb)
    finally:
        bed.reconnect_to_database("app3", how)
    healed_at = time.monotonic()
    back = wait_for(lambda: direct_status(bed, "app3", "/health") == 200, 20)
    back_in_lb = wait_for(lambda: bed.backend_states().get("app3", "").startswith("UP"), 20)
    report(
        f"app3 cut off from PostgreSQL ({'link down' if how == 'route' else 'packets dropped'})",
        direct_answers=[(a.kind, a.status, a.error, a.seconds) for a in cut_answers],
        health_on_app3=health,
        haproxy_out_after_s=out_after,
        lb_outcomes=outcomes(others),
        lb_hosts=dict(Counter(a.host for a in others)),
        ready_again_after_s=back,
        in_lb_again_after_s=None if back_in_lb is None else round(time.monotonic() - healed_at, 3),
    )
    for answer in cut_answers:
        assert (answer.status, answer.error) == (503, "database_unavailable"), answer
        assert answer.seconds < FAIL_FAST_S[how], answer
    assert health == 503
    assert out_after is not None
    assert all(a.status == 200 for a in others), outcomes(others)
    assert "app3" not in {a.host for a in others}
    assert back is not None and back_in_lb is not None  # recovered by itself


def test_primary_restart(bed: Bed, shop: Shop) -> None:
    key = shop.license(max_seats=10_000)
    pids = {app: bed.apps[app].pid for app in APPS}
    with Load(bed, shop, key, workers=4, tag="restart") as load:
        time.sleep(1)
        started = time.monotonic()
        bed.pg_ctl("pg1", "restart", "-m", "fast")
        restarted = time.monotonic()
        time.sleep(3)
    answers = load.answers
    recovered = [a for a in answers if a.started > restarted and a.ok]
    first_ok = min((a.started for a in recovered), default=None)
    late = [a for a in answers if a.started > restarted + 2]
    report(
        "PostgreSQL primary restarted (fast) under load",
        restart_s=round(restarted - started, 3),
        outcomes=outcomes(answers),
        first_success_after_up_s=None if first_ok is None else round(first_ok - restarted, 3),
        failures_2s_after_up=sum(not a.ok for a in late),
    )
    assert {app: bed.apps[app].pid for app in APPS} == pids
    assert all(bed.apps[app].poll() is None for app in APPS)
    assert late and all(a.ok for a in late), outcomes(late)
    assert not [a for a in answers if a.status == 500]
    # While PostgreSQL is down: the hosts' 503 database_unavailable, or HAProxy's own 503 once
    # every host's readiness check failed.
    bad = {(a.status, a.error) for a in answers if not a.ok}
    assert {(503, "database_unavailable"), *HAPROXY_503} >= bad, bad


def test_validate_reads_a_replica_and_sees_its_own_writes(bed: Bed, shop: Shop) -> None:
    key = shop.license(max_seats=100)

    async def activate_and_validate(devices: list[str]) -> list[tuple[Answer, Answer]]:
        async with client() as http:
            pairs = []
            for device in devices:
                activated = await call(http, bed.url, "activate", shop, key, device)
                pairs.append((activated, await call(http, bed.url, "validate", shop, key, device)))
            return pairs

    run_from("client", lambda: activate_and_validate(["replica-old"]))
    assert wait_for(
        lambda: "replica-old".upper() in {d for _, d in active_devices(bed, [key], "pg2")}, 10
    )

    async def validate_old(times: int) -> list[Answer]:
        async with client() as http:
            return [
                await call(http, bed.url, "validate", shop, key, "replica-old")
                for _ in range(times)
            ]

    old = run_from("client", lambda: validate_old(30))
    query(bed, "SELECT pg_wal_replay_pause()", node="pg2")
    try:
        fresh = run_from(
            "client", lambda: activate_and_validate([f"replica-new-{n}" for n in range(10)])
        )
        on_replica = active_devices(bed, [key], "pg2")
        # A suspension the paused replica has not seen: the replica licenses the old device.
        query(bed, "UPDATE licenses SET status = 'suspended' WHERE activation_key = %s", (key,))
        stale = run_from("client", lambda: validate_old(12))
    finally:
        query(bed, "SELECT pg_wal_replay_resume()", node="pg2")
    caught_up = wait_for(lambda: not run_from("client", lambda: validate_old(3))[-1].licensed, 10)
    report(
        "validate on a replica, read-your-writes",
        validations_of_an_old_activation=len(old),
        licensed=sum(a.licensed for a in old),
        licensed_by_the_paused_replica_after_a_suspension=sum(a.licensed for a in stale),
        suspension_seen_after_resume_s=caught_up,
        new_activations_then_validations=len(fresh),
        validated_licensed_at_once=sum(v.licensed for _, v in fresh),
        new_ones_on_the_paused_replica=sum(d.startswith("REPLICA-NEW") for _, d in on_replica),
    )
    assert all(a.licensed for a in old)
    assert all(a.licensed for a in stale)  # read on the replica (the primary says suspended)
    assert caught_up is not None
    assert all(a.status == 200 for a, _ in fresh)
    assert all(v.licensed for _, v in fresh), [v for _, v in fresh]
    assert not any(d.startswith("REPLICA-NEW") for _, d in on_replica)  # so the primary answered


@pytest.mark.parametrize(
    "taken_out_first",
    [
        pytest.param(True, id="taken-out-of-haproxy-first"),
        pytest.param(False, id="sigterm-only"),
    ],
)
def test_rolling_restart_under_load(bed: Bed, shop: Shop, taken_out_first: bool) -> None:
    """Each host in turn: stopped with SIGTERM (granian finishes the requests in flight), started
    again, back in HAProxy. Taken out first (``disable server``, wait until HAProxy has no
    request on it) as the runbook does, or with SIGTERM alone: HAProxy's retries and redispatch
    carry the requests that meet the closed port until its check takes the host out."""
    key = shop.license(max_seats=10_000)
    exits, drained, stop_s = {}, {}, {}
    with Load(bed, shop, key, workers=6, tag=f"rolling-{taken_out_first}") as load:
        time.sleep(0.5)
        for app in APPS:
            if taken_out_first:
                bed.haproxy_command(f"disable server apps/{app}")
                drained[app] = wait_for(lambda app=app: bed.backend_sessions().get(app) == 0, 10)
            started = time.monotonic()
            exits[app] = bed.stop_app(app, signal.SIGTERM)
            stop_s[app] = _since(started)
            bed.start_app(app)
            bed.wait_serving(app)
            if taken_out_first:
                bed.haproxy_command(f"enable server apps/{app}")
            bed.wait_backends_up((app,))
        time.sleep(0.5)
    answers = load.answers
    report(
        "rolling restart of the three hosts under load"
        + (", each taken out of HAProxy first" if taken_out_first else ", SIGTERM only"),
        requests=len(answers),
        outcomes=outcomes(answers),
        drained_after_s=drained or None,
        seconds_to_exit=stop_s,
        exit_codes=exits,
        hosts=dict(Counter(a.host for a in answers)),
    )
    assert exits == {app: 0 for app in APPS}
    assert answers and all(a.status == 200 for a in answers), outcomes(answers)


def test_failover_to_the_promoted_replica(bed: Bed, shop: Shop) -> None:
    key = shop.license(max_seats=10_000)
    with Load(bed, shop, key, workers=4, tag="failover") as load:
        time.sleep(1)
        crashed = time.monotonic()
        bed.pg_ctl("pg1", "stop", "-m", "immediate")  # the primary's host dies
        bed.pg_ctl("pg2", "promote")
        promoted = time.monotonic()
        for app in APPS:
            bed.point_database_name_at("pg2", app)
        pointed = time.monotonic()
        recovered = wait_for(
            lambda: any(
                a.started > pointed and a.kind == "activate" and a.status == 200
                for a in list(load.answers)
            ),
            20,
        )
        time.sleep(1.5)
    answers = load.answers
    acked = acknowledged(answers)
    on_new_primary = active_devices(bed, [key], "pg2")
    late = [a for a in answers if a.started > pointed + (recovered or 0) + 1]
    report(
        "failover: primary killed, replica promoted, db-primary renamed",
        promote_s=round(promoted - crashed, 3),
        writes_again_after_rename_s=recovered,
        outcomes=outcomes(answers),
        acknowledged=len(acked),
        acknowledged_lost=len(acked - on_new_primary),
        failures_1s_after_recovery=sum(not a.ok for a in late),
    )
    assert recovered is not None
    assert acked <= on_new_primary  # synchronous standby: no acknowledged write lost
    assert late and all(a.ok for a in late), outcomes(late)
    assert not [a for a in answers if a.status == 500]
