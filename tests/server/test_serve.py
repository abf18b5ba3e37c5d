"""The real server: `exisone-server serve` in a subprocess, our client over a real socket."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import trustme
from benchmarks.server.processes import worker_pids

from exisone import ExisOneClient
from exisone_server.config import Settings
from tests import support
from tests.support import cli, environment

pytestmark = pytest.mark.slow


@contextmanager
def running_server(
    settings: Settings, *extra: str, verify: bool | ssl.SSLContext = True, scheme: str = "http"
) -> Iterator[str]:
    """Start `exisone-server serve` on a free loopback port; yield its URL; stop it."""
    with support.running_server(
        *extra,
        command=cli(settings),
        env=environment(settings),
        log_path=settings.data_dir / "server.log",
        verify=verify,
        scheme=scheme,
    ) as server:
        yield server.url


def _demo(settings: Settings) -> dict[str, object]:
    result = subprocess.run(
        cli(settings, "demo", "--json"),
        env=environment(settings),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(result.stdout))


def test_client_flows_over_https(empty_settings: Settings, tmp_path: Path) -> None:
    demo = _demo(empty_settings)
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    authority.cert_pem.write_to_path(str(ca_file))
    product = str(demo["productName"])
    single, corporate = str(demo["singleDeviceKey"]), str(demo["corporateKey"])
    server_args = ("--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file))

    with (
        running_server(
            empty_settings,
            *server_args,
            verify=ssl.create_default_context(cafile=str(ca_file)),
            scheme="https",
        ) as url,
        ExisOneClient(
            base_url=url + "/",  # a trailing slash: the client must not produce //api
            access_token=str(demo["accessToken"]),
            offline_public_key=str(demo["publicKeyPem"]),
            verify=str(ca_file),
        ) as client,
    ):
        activated = client.activate(single, "me@example.com", "machine-1", product, "1.2.0")
        assert activated.success, activated
        assert activated.server_version == demo["productVersion"]

        refused = client.activate(single, "me@example.com", "machine-2", product)
        assert (refused.success, refused.error_code) == (False, "license_in_use")

        outdated = client.activate(corporate, "me@example.com", "machine-3", product, "0.9")
        assert (outdated.success, outdated.error_code) == (False, "version_outdated")
        assert outdated.minimum_required_version == demo["minimumRequiredVersion"]

        result = client.validate(single, "MACHINE-1", product)
        assert (result.is_valid, result.status) == (True, "licensed")
        assert sorted(result.features) == ["Export", "Pro"]

        trial = client.validate("", "fresh-device", product)
        assert (trial.is_valid, trial.status) == (True, "trial")

        assert client.get_licensed_features_csv(single) == "Export,Pro"
        assert client.activate(corporate, "it@example.com", "seat-1", product).success
        usage = client.get_seat_usage(corporate)
        assert (usage.current_seats, usage.max_seats, usage.has_capacity) == (1, 5, True)

        client.send_support_ticket(product, "me@example.com", "Hi", "Works over HTTPS.")
        assert client.deactivate(single, "machine-1", product) is True
        assert client.validate(single, "machine-1", product).status == "invalid"


@pytest.mark.parametrize("workers", [pytest.param(2, id="2-workers")])
def test_several_workers_answer_as_one_server(empty_settings: Settings, workers: int) -> None:
    demo = _demo(empty_settings)
    headers = {"Authorization": f"ExisOneApi {demo['accessToken']}"}
    product, corporate = demo["productName"], demo["corporateKey"]

    with running_server(empty_settings, "--workers", str(workers)) as url:
        answers = []
        for index in range(8):
            # new connection each time, so the requests spread over the workers
            response = httpx.post(
                f"{url}/api/license/activate",
                json={
                    "activationKey": corporate,
                    "hardwareId": f"dev-{index}",
                    "productName": product,
                    "email": "x@example.com",
                },
                headers=headers,
                timeout=10,
            )
            answers.append(response.status_code)
        usage = httpx.get(f"{url}/api/license/{corporate}/usage", headers=headers).json()

    assert answers == [200] * 5 + [409] * 3
    assert usage == {"currentSeats": 5, "maxSeats": 5, "hasCapacity": False, "isUnlimited": False}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux's")
def test_workers_die_with_a_killed_supervisor(empty_settings: Settings) -> None:
    """SIGKILL to `serve` (a crash, the OOM killer) takes its workers down too: none is left
    serving the port with no supervisor."""
    server = support.start_server(
        "--workers",
        "2",
        command=cli(empty_settings),
        env=environment(empty_settings),
        log_path=empty_settings.data_dir / "server.log",
    )
    process = server.process
    try:
        server.wait_until_up()
        deadline = time.monotonic() + 30
        while len(worker_pids(process.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        workers = worker_pids(process.pid)
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while any(_alive(worker) for worker in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(worker) for worker in workers)
        assert not server.answers()
    finally:
        server.stop()


def test_a_served_app_exempts_its_startup_objects_from_the_collector(
    empty_settings: Settings,
) -> None:
    """Full garbage collections of the startup heap stalled the event loop for 50-100 ms under
    load (the p99 of docs/benchmarks.md); the served app freezes that heap once built."""
    script = (
        "import gc, json\n"
        "before = gc.get_freeze_count()\n"
        "from exisone_server.asgi import app_from_env\n"
        "app_from_env()\n"
        "print(json.dumps([before, gc.get_freeze_count()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **environment(empty_settings),
            "EXISONE_DATA_DIR": str(empty_settings.data_dir),
            "EXISONE_DATABASE_URL": empty_settings.database_url,
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    before, after = json.loads(result.stdout)
    assert before == 0 and after > 10_000  # modules, app, routes: the long-lived objects


@pytest.mark.parametrize(("level", "logged"), [("info", True), ("warning", False)])
def test_the_access_log_follows_the_log_level(
    empty_settings: Settings, level: str, logged: bool
) -> None:
    """The access log writes each request at INFO; above INFO it is off (not built)."""
    log = empty_settings.data_dir / "server.log"
    with support.running_server(
        "--log-level",
        level,
        command=cli(empty_settings),
        env=environment(empty_settings),
        log_path=log,
    ) as server:
        httpx.get(f"{server.url}/access-log-marker", timeout=5)
    assert ("/access-log-marker" in log.read_text()) is logged


def _audited_addresses(url: str, token: str, forwarded: dict[str, str]) -> list[object]:
    """Create a product with ``forwarded`` headers; the IPs the audit log recorded for it."""
    headers = {"Authorization": f"ExisOneApi {token}"}
    created = httpx.post(
        f"{url}/api/product",
        json={"name": "Behind a proxy"},
        headers={**headers, **forwarded},
        timeout=10,
    )
    assert created.status_code in (200, 201), created.text
    events = httpx.get(
        f"{url}/api/audit", params={"action": "product.create"}, headers=headers, timeout=10
    ).json()["items"]
    return [e["ipAddress"] for e in events if e["target"] == str(created.json()["id"])]


@pytest.mark.parametrize(
    ("allowed", "recorded"), [(None, "203.0.113.7"), ("192.0.2.1", "127.0.0.1")]
)
def test_forwarded_for_counts_only_from_a_trusted_proxy(
    empty_settings: Settings, allowed: str | None, recorded: str
) -> None:
    """The client IP the app records is the proxy's X-Forwarded-For only when the connection
    comes from an address in --forwarded-allow-ips (default 127.0.0.1, where the test is)."""
    demo = _demo(empty_settings)
    extra = ("--forwarded-allow-ips", allowed) if allowed else ()
    with running_server(empty_settings, *extra) as url:
        addresses = _audited_addresses(
            url, str(demo["accessToken"]), {"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
        )
    assert addresses == [recorded]


def test_a_proxy_setting_that_names_no_address_is_refused(empty_settings: Settings) -> None:
    result = subprocess.run(
        cli(empty_settings, "serve", "--no-migrate", "--forwarded-allow-ips", "proxy.local"),
        env=environment(empty_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--forwarded-allow-ips" in result.stderr and "proxy.local" in result.stderr
