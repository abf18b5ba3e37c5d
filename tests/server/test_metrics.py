"""/metrics: what is counted (requests by route template and status, validations by outcome,
the queues, the pool), who may read it, and the sums across ``serve``'s worker processes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exisone_server.app import ExisOneApp, create_app
from exisone_server.config import Settings, sqlite_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.metrics import MetricsAccess, MetricsSettings
from exisone_server.metrics.worker_files import forget_dead_workers
from exisone_server.models import MailMessage
from tests import support
from tests.support import cli, environment

from .conftest import TEST_MASTER_KEY
from .helpers import activate_body, validate_body
from .seeding import Seed

TOKEN = "metrics-test-token"
TOKEN_SHA256 = hashlib.sha256(TOKEN.encode()).hexdigest()
DURATION = "exisone_http_request_duration_seconds"


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _requests(
    samples: Samples,
    method: str,
    route: str,
    status: int,
) -> float:
    return _value(samples, f"{DURATION}_count", method=method, route=route, status=str(status))


def _app(
    settings: Settings, database: Database, master_key: MasterKey, access: MetricsSettings
) -> ExisOneApp:
    return create_app(settings, database=database, master_key=master_key, metrics_settings=access)


@pytest.fixture
async def metered(
    settings: Settings, database: Database, master_key: MasterKey
) -> AsyncIterator[tuple[Seed, httpx.AsyncClient]]:
    """A seed whose client talks to an app with EXISONE_METRICS=on."""
    app = _app(settings, database, master_key, MetricsSettings(MetricsAccess.ON))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield await Seed.create(database, master_key, client), client


async def test_requests_validations_queues_and_pool_are_counted(
    metered: tuple[Seed, httpx.AsyncClient], database: Database
) -> None:
    seed, client = metered
    product = await seed.product(f"Metered {uuid.uuid4().hex[:6]}")
    license = await seed.license(product, is_corporate=True, max_seats=5)
    assert (
        await seed.api.post("/api/license/activate", activate_body(license, product))
    ).status_code == 200
    for _ in range(3):
        answer = await seed.api.post("/api/license/validate", validate_body(license))
        assert answer.json()["reason"] == "licensed"
    other = await seed.api.post("/api/license/validate", validate_body(license, "HW-OTHER"))
    assert other.json()["isValid"] is False
    no_token = await client.post("/api/license/validate", json=validate_body(license))
    assert no_token.status_code == 401
    usage = await seed.api.get(f"/api/license/{license.activation_key}/usage")
    assert usage.status_code == 200
    assert (await client.get("/no/such/SECRET-PATH")).status_code == 404

    async with database.write() as session:
        session.add(
            MailMessage(
                tenant_id=seed.tenant.id,
                kind="purchase",
                to_address="buyer@example.com",
                subject="Your key",
                text_body="text",
                html_body="<p>html</p>",
                message_id=f"<{uuid.uuid4().hex}@example.com>",
                next_attempt_at=utc_now(),
                give_up_at=utc_now(),
            )
        )

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(scrape.text)
    validate = "/api/license/validate"
    assert _requests(samples, "POST", validate, 200) == 4  # through the validate seam
    assert _requests(samples, "POST", validate, 401) == 1
    assert _requests(samples, "POST", "/api/license/activate", 200) == 1
    assert _requests(samples, "GET", "/api/license/{activation_key}/usage", 200) == 1
    assert _requests(samples, "GET", "unmatched", 404) == 1
    assert license.activation_key not in scrape.text and "SECRET" not in scrape.text  # no paths
    bucket = _value(
        samples, f"{DURATION}_bucket", method="POST", route=validate, status="200", le="+Inf"
    )
    assert bucket == 4

    outcome = other.json()["reason"]
    assert _value(samples, "exisone_validations_total", outcome="licensed") == 3
    assert _value(samples, "exisone_validations_total", outcome=outcome) == 1
    assert _value(samples, "exisone_validations_total", outcome="missing_token") == 1

    async with database.read_session() as session:
        from sqlalchemy import func, select

        pending = await session.scalar(
            select(func.count()).select_from(MailMessage).where(MailMessage.status == "pending")
        )
    assert pending and _value(samples, "exisone_mail_messages_pending") == pending
    assert ("exisone_webhook_deliveries_pending", frozenset()) in samples
    assert _value(samples, "exisone_db_pool_size") >= 1
    assert ("exisone_db_pool_connections", frozenset({("state", "idle")})) in samples

    again = _samples((await client.get("/metrics")).text)  # the first scrape is counted too
    assert _requests(again, "GET", "/metrics", 200) == 1
    assert _value(again, "exisone_validations_total", outcome="licensed") == 3


async def test_who_may_read_the_metrics(
    settings: Settings, database: Database, master_key: MasterKey
) -> None:
    protected = MetricsSettings(MetricsAccess.TOKEN, TOKEN_SHA256)
    for access, headers, status in [
        (protected, {}, 401),
        (protected, {"Authorization": "Bearer wrong-token"}, 401),
        (protected, {"Authorization": f"ExisOneApi {TOKEN}"}, 401),
        (protected, {"Authorization": f"Bearer {TOKEN}"}, 200),
        (MetricsSettings(MetricsAccess.ON), {}, 200),
        (MetricsSettings(MetricsAccess.OFF), {"Authorization": f"Bearer {TOKEN}"}, 404),
    ]:
        app = _app(settings, database, master_key, access)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/metrics", headers=headers)
        assert answer.status_code == status, (access, headers)
        if status == 401:
            assert answer.json()["error"] in {"missing_token", "invalid_token"}
            assert answer.headers["www-authenticate"] == "Bearer"
    assert MetricsSettings.from_env({}).access is MetricsAccess.OFF  # off by default
    with pytest.raises(ValueError, match="EXISONE_METRICS_TOKEN_SHA256"):
        MetricsSettings.from_env({"EXISONE_METRICS": "token"})
    with pytest.raises(ValueError, match="64 hexadecimal"):
        MetricsSettings.from_env(
            {"EXISONE_METRICS": "token", "EXISONE_METRICS_TOKEN_SHA256": TOKEN}
        )
    with pytest.raises(ValueError, match="off, on or token"):
        MetricsSettings.from_env({"EXISONE_METRICS": "public"})


def test_the_gauges_of_dead_workers_are_forgotten(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    for pid in (os.getpid(), finished.pid):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    assert forget_dead_workers(str(tmp_path)) == [finished.pid]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [
            f"gauge_livesum_{os.getpid()}.db",
            f"counter_{os.getpid()}.db",
            f"counter_{finished.pid}.db",
        ]
    )  # counts of a dead worker stay in the sums


@pytest.mark.slow
def test_two_workers_are_summed_and_the_folder_is_removed(tmp_path: Path) -> None:
    settings = Settings(
        tmp_path / "data",
        sqlite_url(tmp_path / "data" / "exisone.db"),
        master_key=TEST_MASTER_KEY.generate_base64(),
    )
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = environment(
        settings,
        {
            "EXISONE_METRICS": "token",
            "EXISONE_METRICS_TOKEN_SHA256": TOKEN_SHA256,
            "TMPDIR": str(temporary),
        },
    )
    requests = 40
    with support.running_server(
        "--workers", "2", command=cli(settings), env=env, log_path=tmp_path / "server.log"
    ) as server:
        (folder,) = temporary.iterdir()
        assert folder.name.startswith("exisone-metrics-") and folder.stat().st_mode & 0o777 == 0o700
        for _ in range(requests):  # a new connection each time: the workers share them
            assert httpx.get(f"{server.url}/health/live", timeout=10).status_code == 200
        headers = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 15
        while True:  # each worker writes its counts every second
            samples = _samples(httpx.get(f"{server.url}/metrics", headers=headers, timeout=10).text)
            counted = _requests(samples, "GET", "/health/live", 200)
            if counted == requests or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        pids = {name.rsplit("_", 1)[1] for name in os.listdir(folder) if name.endswith(".db")}
        print(f"/health/live counted {counted} of {requests}; files of {len(pids)} processes")
        assert counted == requests
        assert len(pids) == 2  # both workers answered and wrote their files
        assert _value(samples, "exisone_db_pool_size") == 2 * 5  # each worker's pool, summed
        assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 401
    assert not folder.exists()
