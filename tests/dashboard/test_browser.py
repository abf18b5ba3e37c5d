"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against
``exisone-server serve`` started for real on a free loopback port (SQLite in a temp folder).

Never downloads a browser (no ``playwright install``): it launches ``/usr/bin/chromium``. When
that is missing the tests are skipped with a reason, except under ``CI=true`` where they fail.
Every test saves a screenshot to ``test-output/screenshots/<test name>.png``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from exisone import ExisOneClient

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    email: str
    password: str
    access_token: str
    product_name: str
    log: Path


@contextmanager
def running_dashboard(
    data_dir: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[LiveServer]:
    """``exisone-server demo`` (for a login and a token), then ``serve`` on a free port, with
    ``extra_env`` set for the server."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("EXISONE_") and name.lower() not in {"http_proxy", "https_proxy"}
    }
    env["EXISONE_DATA_DIR"] = str(data_dir)
    env["EXISONE_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    env.update(extra_env or {})
    port = _free_port()
    command = [sys.executable, "-m", "exisone_server"]
    demo = subprocess.run(
        [*command, "demo", "--json", "--url", f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    data = json.loads(demo.stdout)
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield LiveServer(
            base_url=base_url,
            email=data["dashboardUser"],
            password=data["dashboardPassword"],
            access_token=data["accessToken"],
            product_name=data["productName"],
            log=log,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_dashboard(tmp_path_factory.mktemp("dashboard-server")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for this module only: Playwright's sync API keeps an event loop running in the
    main thread while it is open, which would break later tests that call ``asyncio.run``."""
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desktop size; saves a screenshot at the end."""
    context = browser.new_context(
        base_url=live_server.base_url,
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()


def log_in(page: Any, server: LiveServer) -> None:
    page.goto("/dashboard/login")
    page.get_by_label("Email").fill(server.email)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")


def message(page: Any) -> str:
    return str(page.locator(".message").first.inner_text())


def test_log_in(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    assert page.get_by_role("heading", name="Home").is_visible()
    assert page.locator("#active-licenses").inner_text().isdigit()
    assert page.locator("svg.chart rect.activations").count() == 30
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["exisone_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"


def test_failed_login_is_refused(page: Any, live_server: LiveServer) -> None:
    page.goto("/dashboard/login")
    page.get_by_label("Email").fill(live_server.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert message(page) == "Wrong email or password."
    assert "/dashboard/login" in page.url
    assert "exisone_session" not in {c["name"] for c in page.context.cookies()}
    page.goto("/dashboard/keys")
    assert page.url.endswith("/dashboard/login")


def test_a_post_without_csrf_token_is_refused(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    page.goto("/dashboard/products")
    name = f"Forged {uuid.uuid4().hex[:6]}"
    form = page.locator("form[action='/dashboard/products']")
    form.get_by_label("Name", exact=True).fill(name)
    form.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    form.get_by_role("button", name="Create product").click()
    assert page.get_by_role("heading", name="This form was refused").is_visible()
    direct = page.request.post(
        "/dashboard/products", form={"name": name, "trial_days": "0", "default_license_days": "0"}
    )
    assert direct.status == 403
    listing = page.request.get("/dashboard/products")
    assert listing.ok and name not in listing.text()


def test_create_product_and_plan(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    product = f"Studio {uuid.uuid4().hex[:6]}"
    page.get_by_role("link", name="Products").click()
    form = page.locator("form[action='/dashboard/products']")
    form.get_by_label("Name", exact=True).fill(product)
    form.get_by_label("Current version").fill("3.1.0")
    form.get_by_label("Minimum required version").fill("3.0.0")
    form.get_by_label("Enforce the minimum version").check()
    form.get_by_label("Trial days").fill("21")
    form.get_by_label("Default license days (0 = perpetual)").fill("365")
    form.get_by_role("button", name="Create product").click()
    assert message(page) == f"Product '{product}' created."
    row = page.locator("tr", has_text=product)
    assert "3.1.0" in row.inner_text() and "21" in row.inner_text()

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Trial days").fill("30")
    page.get_by_role("button", name="Save product").click()
    assert message(page) == f"Product '{product}' saved."

    plan = f"Team {uuid.uuid4().hex[:6]}"
    page.get_by_role("link", name="Plans").click()
    page.get_by_label("Name", exact=True).fill(plan)
    page.get_by_label("Duration in days (0 = perpetual)").fill("365")
    page.get_by_label("Features (comma separated)").fill("Export, Cloud")
    page.get_by_label("Corporate (several seats per key)").check()
    page.get_by_label("Corporate seat count (empty = unlimited)").fill("10")
    page.get_by_role("button", name="Create plan").click()
    assert message(page) == f"Plan '{plan}' created."
    plan_row = page.locator("tr", has_text=plan).inner_text()
    assert "Cloud, Export" in plan_row and "10" in plan_row


def _generate(page: Any, product: str, email: str, count: int = 1) -> list[str]:
    page.get_by_role("link", name="License Keys").click()
    details = page.locator("details")
    if details.get_attribute("open") is None:
        page.locator("summary", has_text="Generate keys").click()
    page.get_by_label("Product", exact=True).first.select_option(product)
    page.get_by_label("Customer email").fill(email)
    page.get_by_label("How many keys").fill(str(count))
    page.get_by_role("button", name="Generate").click()
    keys = page.locator("#generated code.key").all_inner_texts()
    return [str(key) for key in keys]


def test_generate_a_key(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    email = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    keys = _generate(page, live_server.product_name, email, count=2)
    assert message(page) == "Generated 2 keys."
    assert len(keys) == 2 and all(re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", k) for k in keys)
    page.get_by_label("Search").fill(email)
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tbody tr").count() == 2


def test_offline_code_for_a_hardware_id(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    key = _generate(page, live_server.product_name, "offline@example.com")[0]
    page.get_by_role("link", name=key).first.click()
    page.get_by_label("Customer's hardware ID").fill("air-gapped-pc-42")
    page.get_by_role("button", name="Generate offline code").click()
    assert message(page).startswith("Offline Activation Code ready")
    code = page.locator("#offline-code").input_value()
    page.get_by_role("button", name="Copy code").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == code

    pem = page.request.get("/dashboard/crypto/public.pem").text()  # the Download button
    client = ExisOneClient(base_url=live_server.base_url, offline_public_key=pem)
    try:
        result = client.validate_offline(code, "AIR-GAPPED-PC-42")
        wrong_device = client.validate_offline(code, "someone-else")
    finally:
        client.close()
    assert result.is_valid, result.error_message
    assert result.product_name == live_server.product_name
    assert not wrong_device.is_valid and wrong_device.hardware_mismatch


def test_token_secret_is_shown_once(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    page.get_by_role("link", name="Access Tokens").click()
    name = f"CI {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("generate").check()
    page.get_by_label("Expires after (days, empty = never)").fill("30")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").input_value()
    assert secret.startswith("exo_at_")
    assert "it will not be shown again" in page.content()
    answer = httpx.post(
        f"{live_server.base_url}/api/license/validate",
        json={"activationKey": "AAAA-BBBB-CCCC-DDDD", "hardwareId": "X", "productName": "X"},
        headers={"Authorization": f"ExisOneApi {secret}"},
    )
    assert answer.status_code != 401
    page.screenshot(path=str(SCREENSHOTS / "test_token_secret_is_shown_once-created.png"))
    page.get_by_role("link", name="Access Tokens").click()  # the page again, by GET
    assert secret not in page.content()
    assert page.locator("tr", has_text=name).count() == 1


def test_rotate_crypto_key(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server)
    page.get_by_role("link", name="Crypto Keys").click()
    before = page.locator("#fingerprint").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate key").click()
    assert message(page).startswith("New key")
    after = page.locator("#fingerprint").inner_text()
    assert after != before
    download = page.request.get("/dashboard/crypto/public.pem")
    assert download.text() == page.locator("#public-key").input_value()


def test_answer_a_ticket(page: Any, live_server: LiveServer) -> None:
    subject = f"Cannot activate {uuid.uuid4().hex[:6]}"
    sent = httpx.post(
        f"{live_server.base_url}/api/support/ticket",
        json={
            "productName": live_server.product_name,
            "email": "customer@example.com",
            "subject": subject,
            "message": "It says the key is invalid.\nPlease help.",
        },
        headers={"Authorization": f"ExisOneApi {live_server.access_token}"},
    )
    assert sent.status_code == 200, sent.text
    log_in(page, live_server)
    assert int(page.locator("#open-tickets").inner_text()) >= 1
    page.get_by_role("link", name="Support Tickets").click()
    page.get_by_role("link", name=subject).click()
    assert "It says the key is invalid." in page.locator(".ticket-message").inner_text()
    assert page.get_by_role("link", name="Reply by email").get_attribute("href", timeout=1000)
    page.get_by_role("button", name="Mark resolved").click()
    assert message(page) == "Ticket marked resolved."
    assert page.locator("#ticket-state").inner_text() == "resolved"
    page.get_by_role("link", name="← Support Tickets").click()
    assert subject not in page.content()


def test_phone_width(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        tab = context.new_page()
        log_in(tab, live_server)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "test_phone_width-home.png"), full_page=True)
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the home page scrolls sideways ({width}px)"
        tab.goto("/dashboard/keys")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        tab.screenshot(path=str(SCREENSHOTS / "test_phone_width.png"), full_page=True)
    finally:
        context.close()


def test_license_activity(page: Any, live_server: LiveServer) -> None:
    device = f"TRIAL-PC-{uuid.uuid4().hex[:6].upper()}"
    trial = httpx.post(
        f"{live_server.base_url}/api/license/validate",
        json={"hardwareId": device, "productName": live_server.product_name, "version": "1.2.0"},
        headers={"Authorization": f"ExisOneApi {live_server.access_token}"},
    )
    assert trial.status_code == 200, trial.text
    log_in(page, live_server)
    page.get_by_role("link", name="License Activity").click()
    row = page.locator("tr", has_text=device)
    row.get_by_label("New end of the trial").fill("2031-01-15")
    row.get_by_role("button", name="Save").click()
    assert message(page) == "Trial now ends 2031-01-15T00:00:00Z."
    assert "2031-01-15" in page.locator("tr", has_text=device).inner_text()
