"""The customer portal in Debian's headless Chromium against ``exisone-server serve`` started for
real, with the sign-in links and keys read from a real SMTP server (aiosmtpd): the publisher
turns the portal on in the dashboard; a customer signs in from the e-mailed link, sees the
license and its devices, releases one (the seat is free in the API at once), is refused a
second release inside the cooldown with the time it lifts, gets an offline code for a pasted
hardware ID (copied and downloaded), and recovers the keys by e-mail; and, once the publisher
added a Stripe app, renews a license: the portal sends the customer to Stripe's checkout (the
local fake Stripe) and the signed payment event extends the same key. On a desktop and on a
phone-sized screen; every portal page is checked with axe-core (npm, installed from
``tests/portal/package-lock.json`` by ``npm ci``): no serious or critical violation.

With ``EXISONE_DOCS_SCREENSHOTS=1`` the screenshots are also written to docs/images/portal/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from ..dashboard.test_browser import (  # noqa: F401  (the browser fixture)
    REPO_ROOT,
    SCREENSHOTS,
    LiveServer,
    _skip_or_fail,
    browser,
    log_in,
    message,
    running_live_server,
)
from ..server.fake_providers import FakeProviders, running_fake_providers, stripe_headers
from ..server.smtp_server import MailServer, running_mail_server

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
DOCS_IMAGES = REPO_ROOT / "docs" / "images" / "portal"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/portal/[a-z0-9-]+/link\?token=[A-Za-z0-9_\-]+)")


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe-core from the npm registry, as pinned in package-lock.json (``npm ci``)."""
    npm = shutil.which("npm")
    if npm is None:
        _skip_or_fail("npm is missing (apt-get install npm, or Node.js 20)")
    assert npm is not None
    if not AXE.exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    return AXE


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    with running_mail_server(tmp_path_factory.mktemp("smtp"), "none") as server:
        yield server


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProviders]:
    """The local fake Stripe (HTTPS) the server makes its Checkout sessions at."""
    with running_fake_providers(tmp_path_factory.mktemp("providers")) as fake:
        yield fake


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, mail_server: MailServer, providers: FakeProviders
) -> Iterator[LiveServer]:
    env = {
        **providers.env(),
        "EXISONE_SMTP_URL": mail_server.url,
        "EXISONE_MAIL_FROM": "Acme Licensing <licenses@acme.example>",
        "EXISONE_MAIL_POLL_SECONDS": "0.2",
    }
    with running_live_server(tmp_path_factory.mktemp("portal-server"), env) as server:
        yield server


@dataclass
class Shop:
    """The publisher's side, through the API."""

    server: LiveServer
    slug: str

    @property
    def portal(self) -> str:
        return f"{self.server.base_url}/portal/{self.slug}"

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.server.base_url}{path}",
            json=body,
            headers={"Authorization": f"ExisOneApi {self.server.access_token}"},
        )

    def new_key(self, email: str) -> str:
        created = self.api(
            "POST",
            "/api/activationkey/generate",
            {"productName": self.server.product_name, "email": email},
        )
        assert created.status_code == 200, created.text
        return str(created.json()["activationKey"])

    def activate(self, key: str, hardware_id: str) -> httpx.Response:
        return self.api(
            "POST",
            "/api/license/activate",
            {
                "activationKey": key,
                "hardwareId": hardware_id,
                "productName": self.server.product_name,
                "email": "",
                "version": "2.4.1",
            },
        )


@pytest.fixture(scope="module")
def shop(browser: Any, live_server: LiveServer) -> Shop:  # noqa: F811
    """The publisher turns the portal on in the dashboard (branding, public address) and sets
    the product's cooldown."""
    context = browser.new_context(base_url=live_server.base_url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    try:
        log_in(tab, live_server)
        tab.get_by_role("link", name="Customer portal").click()
        expect(tab.locator("#portal-status")).to_have_text("The portal is off.")
        tab.get_by_label("Portal on").check()
        tab.get_by_label("Portal address (/portal/…)").fill(slug)
        tab.get_by_label("Public address (scheme and host)").fill(live_server.base_url)
        tab.get_by_label("Display name (empty = demo)").fill("Acme Software")
        tab.get_by_label("Support address").fill("help@acme.example")
        tab.get_by_label("Accent colour (#rrggbb)").fill("#0b6e4f")
        tab.get_by_role("button", name="Save portal settings").click()
        assert message(tab) == "Portal settings saved. The portal is on."
        expect(tab.locator("#portal-status")).to_contain_text(f"/portal/{slug}")
        _shot(tab, "dashboard-settings")
    finally:
        context.close()
    made = Shop(live_server, slug)
    [product] = [
        p for p in made.api("GET", "/api/product").json() if p["name"] == live_server.product_name
    ]
    changed = made.api("PATCH", f"/api/product/{product['id']}", {"deactivationCooldownHours": 24})
    assert changed.status_code == 200, changed.text
    return made


def _shot(tab: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"portal-{name}.png"), full_page=True)
    if os.environ.get("EXISONE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(DOCS_IMAGES / f"{name}.png"), full_page=True)


def _accessible(tab: Any, axe: Path) -> None:
    """axe-core on the page: no serious or critical violation; and the page fits the screen."""
    tab.add_script_tag(path=str(axe))
    violations = tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(" "))}));
        }"""
    )
    assert violations == [], f"{tab.url}: {violations}"
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= tab.viewport_size["width"], f"{tab.url}: {width} px wide, no sideways scroll"


def _text(item: EmailMessage) -> str:
    part = item.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _mail_to(server: MailServer, address: str, count: int = 1) -> list[str]:
    """The plain-text bodies of the first ``count`` messages to ``address``."""
    for _ in range(300):
        with server.lock:
            found = [_text(r.message) for r in server.messages if r.rcpt_tos == [address]]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {count} message(s) to {address}")


@pytest.fixture
def tab(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:  # noqa: F811
    """A fresh browser (no cookies). ``bypass_csp`` lets Playwright add axe-core's script tag;
    test_the_pages_keep_to_their_security_policy runs the pages under the policy."""
    viewport, bypass_csp = getattr(request, "param", (DESKTOP, True))
    context = browser.new_context(
        base_url=live_server.base_url,
        viewport=viewport,
        is_mobile=viewport is PHONE,
        permissions=["clipboard-read", "clipboard-write"],
        accept_downloads=True,
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        yield page
    finally:
        context.close()


def _sign_in(
    tab: Any, shop: Shop, mail_server: MailServer, email: str, axe: Path, prefix: str | None
) -> None:
    """Sign in through the e-mailed link (screenshots named ``<prefix>…``; None: none)."""
    tab.goto(shop.portal)
    expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
    _accessible(tab, axe)
    if prefix is not None:
        _shot(tab, f"{prefix}sign-in")
    tab.get_by_label("E-mail address", exact=True).first.fill(email)
    tab.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(tab.locator("#check-mail")).to_contain_text("a sign-in link is on its way")
    _accessible(tab, axe)
    [body] = _mail_to(mail_server, email)
    found = LINK.search(body)
    assert found, body
    tab.goto(found.group(1))
    _accessible(tab, axe)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{shop.portal}/licenses")
    expect(tab.get_by_role("heading", name="My licenses")).to_be_visible()
    _accessible(tab, axe)


@pytest.mark.parametrize(
    ("tab", "shots"), [((DESKTOP, True), ""), ((PHONE, True), "phone-")], indirect=["tab"]
)
def test_a_customer_moves_a_license_and_recovers_the_keys(
    tab: Any, shop: Shop, mail_server: MailServer, axe_script: Path, shots: str
) -> None:
    email = f"customer-{uuid.uuid4().hex[:6]}@example.com"
    key = shop.new_key(email)
    air_key = shop.new_key(email)
    assert shop.activate(key, "OLD-LAPTOP-7F3A9C21D4E5").status_code == 200

    _sign_in(tab, shop, mail_server, email, axe_script, shots)
    cookie = next(c for c in tab.context.cookies() if c["name"] == "exisone_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == f"/portal/{shop.slug}"
    expect(tab.locator(".top")).to_have_css("background-color", "rgb(11, 110, 79)")
    _shot(tab, shots + "licenses")

    tab.get_by_role("link", name=re.compile(f"Devices and key of .*{key[-4:]}")).click()
    expect(tab.locator("#devices")).to_contain_text("OLD-LAPT…D4E5")
    expect(tab.locator("#devices")).to_contain_text("2.4.1")
    _accessible(tab, axe_script)
    tab.get_by_role("button", name="Show key").click()
    expect(tab.locator("#activation-key")).to_have_text(key)
    tab.get_by_role("button", name="Copy key").click()
    assert tab.evaluate("navigator.clipboard.readText()") == key
    _accessible(tab, axe_script)
    _shot(tab, shots + "license")

    # Release the old laptop: the seat is free in the API at once.
    tab.get_by_role("button", name=re.compile("Release this device")).click()
    assert message(tab) == "Device released: its seat is free for another machine."
    assert shop.activate(key, "NEW-DESKTOP-0001").status_code == 200
    tab.reload()
    expect(tab.locator("#devices")).to_contain_text("NEW-DESKTOP-0001")
    expect(tab.locator("#release-rules")).to_contain_text("The next release is possible from")
    tab.get_by_role("button", name=re.compile("Release this device")).click()
    refusal = message(tab)
    assert "less than 24 hours ago" in refusal and "the next release is possible from" in refusal
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", refusal)
    expect(tab.locator("#devices")).to_contain_text("NEW-DESKTOP-0001")
    _accessible(tab, axe_script)
    _shot(tab, shots + "release-refused")

    # An offline code for a machine without internet: pasted, copied, downloaded.
    tab.get_by_role("link", name="My licenses", exact=True).click()
    tab.get_by_role("link", name=re.compile(f"Devices and key of .*{air_key[-4:]}")).click()
    tab.get_by_label("Hardware ID").fill("AIRGAP-LAB-0042")
    tab.get_by_role("button", name="Get the offline code").click()
    assert message(tab).startswith("Offline code ready")
    code = tab.locator("#offline-code").input_value()
    assert len(code) > 50
    tab.get_by_role("button", name="Copy code").click()
    assert tab.evaluate("navigator.clipboard.readText()") == code
    with tab.expect_download() as download:
        tab.get_by_role("link", name="Download as a file").click()
    assert download.value.suggested_filename == "offline-code-AIRGAP-LAB-0042.txt"
    assert Path(download.value.path()).read_text() == code
    checked = shop.api(
        "POST",
        "/api/license/validate",
        {"activationKey": code, "hardwareId": "AIRGAP-LAB-0042"},
    )
    assert checked.json()["status"] == "licensed", checked.text
    _accessible(tab, axe_script)
    _shot(tab, shots + "offline-code")

    # Sign out, then recover the keys from the public page.
    tab.get_by_role("button", name="Sign out", exact=True).click()
    expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
    tab.get_by_label("E-mail address", exact=True).nth(1).fill(email)
    tab.get_by_role("button", name="E-mail me my keys").click()
    expect(tab.locator("#check-mail")).to_contain_text("its activation keys are on their way")
    _accessible(tab, axe_script)
    bodies = _mail_to(mail_server, email, 2)
    assert key in bodies[1] and air_key in bodies[1]


def test_a_link_used_twice_and_an_unknown_address(
    tab: Any, shop: Shop, mail_server: MailServer, axe_script: Path
) -> None:
    """The same answer for an address without licenses (no mail is sent); a used link is
    refused with a page that passes the accessibility check."""
    email = f"twice-{uuid.uuid4().hex[:6]}@example.com"
    shop.new_key(email)
    nobody = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    tab.goto(shop.portal)
    tab.get_by_label("E-mail address", exact=True).first.fill(nobody)
    tab.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(tab.locator("#check-mail")).to_contain_text("a sign-in link is on its way")

    _sign_in(tab, shop, mail_server, email, axe_script, None)
    [body] = _mail_to(mail_server, email)
    tab.goto(LINK.search(body).group(1))  # type: ignore[union-attr]
    expect(tab.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    _accessible(tab, axe_script)
    _shot(tab, "link-used")
    assert not [r for r in mail_server.messages if r.rcpt_tos == [nobody]]


@pytest.mark.parametrize("tab", [(DESKTOP, False)], indirect=True)
def test_the_pages_keep_to_their_security_policy(
    tab: Any, shop: Shop, mail_server: MailServer
) -> None:
    """Under the portal's CSP (no bypass): the stylesheets, the theme and the script load, and
    the browser reports no violation on any page of the flow."""
    email = f"csp-{uuid.uuid4().hex[:6]}@example.com"
    key = shop.new_key(email)
    violations: list[str] = []
    tab.on(
        "console",
        lambda entry: (
            violations.append(entry.text) if "Content Security Policy" in entry.text else None
        ),
    )
    tab.goto(shop.portal)
    tab.get_by_label("E-mail address", exact=True).first.fill(email)
    tab.get_by_role("button", name="E-mail me a sign-in link").click()
    [body] = _mail_to(mail_server, email)
    tab.goto(LINK.search(body).group(1))  # type: ignore[union-attr]
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("link", name=re.compile("Devices and key")).click()
    tab.get_by_role("button", name="Show key").click()
    tab.get_by_role("button", name="Copy key").click()  # portal.js runs
    expect(tab.get_by_role("button", name="Copied")).to_be_visible()
    assert tab.evaluate("navigator.clipboard.readText()") == key
    expect(tab.locator(".top")).to_have_css("background-color", "rgb(11, 110, 79)")  # theme.css
    assert violations == []


STRIPE_SIGNING_SECRET = "whsec_" + uuid.uuid4().hex


def _connect_stripe(browser: Any, server: LiveServer) -> None:  # noqa: F811
    """The publisher adds a Stripe app on the dashboard's Payments page."""
    context = browser.new_context(base_url=server.base_url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        log_in(tab, server)
        tab.get_by_role("link", name="Payments").click()
        tab.get_by_label("App name").fill("Acme Stripe")
        tab.get_by_label("Secret key / API key / client secret").fill("sk_test_" + uuid.uuid4().hex)
        tab.get_by_label("Webhook signing secret").fill(STRIPE_SIGNING_SECRET)
        tab.get_by_role("button", name="Add app").click()
        assert message(tab) == "Stripe app 'Acme Stripe' saved: Ready."
    finally:
        context.close()


@pytest.mark.parametrize("tab", [(DESKTOP, False)], indirect=True)
def test_a_customer_renews_a_license_through_stripe(
    tab: Any,
    browser: Any,  # noqa: F811
    shop: Shop,
    mail_server: MailServer,
    providers: FakeProviders,
    axe_script: Path,
) -> None:
    """No "Renew" without a provider; with the publisher's Stripe app, "Renew" leads (under the
    portal's security policy) to Stripe's checkout for this license, and Stripe's signed event
    extends the same key by the product's days."""
    [product] = [
        p for p in shop.api("GET", "/api/product").json() if p["name"] == shop.server.product_name
    ]
    priced = shop.api(
        "PATCH", f"/api/product/{product['id']}", {"price": 49.0, "defaultLicenseDays": 365}
    )
    assert priced.status_code == 200, priced.text
    email = f"renew-{uuid.uuid4().hex[:6]}@example.com"
    created = shop.api(
        "POST",
        "/api/activationkey/generate",
        {"productName": shop.server.product_name, "email": email, "validityDays": 30},
    )
    assert created.status_code == 200, created.text
    key, expires = created.json()["activationKey"], created.json()["expirationDate"]
    violations: list[str] = []
    tab.on(
        "console",
        lambda entry: (
            violations.append(entry.text) if "Content Security Policy" in entry.text else None
        ),
    )
    tab.goto(shop.portal)
    tab.get_by_label("E-mail address", exact=True).first.fill(email)
    tab.get_by_role("button", name="E-mail me a sign-in link").click()
    [body] = _mail_to(mail_server, email)
    tab.goto(LINK.search(body).group(1))  # type: ignore[union-attr]
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{shop.portal}/licenses")
    expect(tab.get_by_role("link", name=re.compile("^Renew"))).to_have_count(0)

    _connect_stripe(browser, shop.server)
    tab.reload()
    renew = tab.get_by_role("link", name=re.compile("^Renew"))
    expect(renew).to_have_count(1)
    renew.click()
    expect(tab.get_by_role("heading", name=re.compile("^Renew"))).to_be_visible()
    expect(tab.locator("#renewal-days")).to_have_text("365 more days")
    license_id = tab.url.rstrip("/").split("/")[-2]

    # axe-core needs its script on the page: the same page in a context that bypasses the CSP.
    checked = browser.new_context(base_url=shop.server.base_url, bypass_csp=True)
    try:
        checked.add_cookies(tab.context.cookies())
        other = checked.new_page()
        other.goto(tab.url)
        _accessible(other, axe_script)
    finally:
        checked.close()

    tab.context.route(
        "https://checkout.stripe.test/**",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body="<!doctype html><title>Stripe Checkout</title><h1>Pay</h1>",
        ),
    )
    with tab.expect_request(lambda r: r.url.startswith("https://checkout.stripe.test/")):
        tab.get_by_role("button", name="Pay and renew").click()
    expect(tab).to_have_title("Stripe Checkout")
    assert violations == []
    form = providers.checkout_forms[-1]
    assert form["metadata[renewLicenseId]"] == license_id
    assert form["customer_email"] == email
    assert form["line_items[0][price_data][unit_amount]"] == "4900"

    # Stripe's signed event for the paid session: the same key, 365 days later.
    metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
    event = json.dumps(
        {
            "id": "evt_" + uuid.uuid4().hex,
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": "cs_test_renewal",
                    "mode": "payment",
                    "payment_status": "paid",
                    "payment_intent": "pi_" + uuid.uuid4().hex,
                    "customer_details": {"email": email},
                    "metadata": metadata,
                }
            },
        }
    ).encode()
    paid = httpx.post(
        f"{shop.server.base_url}/api/stripe/webhook",
        content=event,
        headers=stripe_headers(event, STRIPE_SIGNING_SECRET),
    )
    assert paid.status_code == 200 and paid.json()["status"] == "fulfilled", paid.text
    tab.goto(form["success_url"])
    assert message(tab).startswith("Thank you.")
    looked_up = shop.api("GET", f"/api/license/{key}")
    renewed = datetime.fromisoformat(looked_up.json()["expirationDate"].replace("Z", "+00:00"))
    before = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    assert renewed - before == timedelta(days=365), looked_up.text
    expect(tab.locator("main")).to_contain_text(renewed.strftime("%Y-%m-%d"))
    _shot(tab, "renewed")
