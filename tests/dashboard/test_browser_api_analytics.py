"""The Analytics and API Usage pages in Debian's headless Chromium, against ``exisone-server
serve`` run with a small country database (loopback is "SE" in it). Screenshots as in
test_browser.py."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ..server.country_db import write_country_database
from .test_browser import (  # noqa: F401  (fixtures)
    LiveServer,
    _generate,
    browser,
    log_in,
    message,
    page,
    running_live_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("analytics-server")
    countries = write_country_database(data_dir / "countries.mmdb")
    with running_live_server(data_dir, {"EXISONE_GEOIP_DATABASE": str(countries)}) as server:
        yield server


def _api(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"ExisOneApi {server.access_token}"},
        timeout=10,
    )


def test_analytics_page(page: Any, live_server: LiveServer) -> None:  # noqa: F811
    product = live_server.product_name
    with _api(live_server) as api:
        for version in ("2.0", "2.0", "2.1"):
            api.post(
                "/api/license/validate",
                json={
                    "hardwareId": "HW",
                    "activationKey": "NO-SUCH-KEY",
                    "productName": product,
                    "version": version,
                },
            )
        api.post("/api/license/validate", json={"hardwareId": "HW", "productName": "=SUM(A1:A9)"})

    log_in(page, live_server)
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url("**/dashboard/analytics")
    assert int(page.locator("#total-validations").inner_text()) >= 4
    assert page.locator("svg.chart rect.validations").count() == 30
    country = page.locator("#by-country tbody tr", has_text="SE")
    assert country.count() == 1 and "SE" in country.inner_text()

    page.get_by_label("Period", exact=True).select_option("7")
    page.get_by_label("Version", exact=True).select_option("2.1")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**version=2.1**")
    assert page.locator("#total-validations").inner_text() == "1"
    assert page.locator("svg.chart rect.validations").count() == 7

    page.get_by_label("Version", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export CSV").click()
    download = waiting.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as file:
        lines = list(csv.reader(io.StringIO(file.read())))
    assert lines[0][:4] == ["day", "product", "version", "country"]
    assert ["'=SUM(A1:A9)", "", "SE"] in [line[1:4] for line in lines]
    assert [product, "2.0", "SE", "2"] in [line[1:5] for line in lines]


def test_api_product_usage_and_top_up(page: Any, live_server: LiveServer) -> None:  # noqa: F811
    log_in(page, live_server)
    name = f"Geo API {uuid.uuid4().hex[:6]}"
    page.get_by_role("link", name="Products").click()
    form = page.locator("form[action='/dashboard/products']")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("API product: its keys carry a quota of calls").check()
    form.get_by_label("Calls a new key gets (when its plan sets none)").fill("200")
    form.get_by_label("Calls per minute (empty = no limit)").fill("100")
    form.get_by_role("button", name="Create product").click()
    assert message(page) == f"Product '{name}' created."
    (key,) = _generate(page, name, "api-buyer@example.com")

    with _api(live_server) as api:
        for amount in (30, 12):
            answer = api.post("/api/license/consume", json={"activationKey": key, "amount": amount})
            assert answer.json()["allowed"] is True, answer.text

    page.get_by_role("link", name="API Usage").click()
    row = page.locator("#api-keys tbody tr", has_text=key)
    assert "42" in row.inner_text() and "200" in row.inner_text()
    row.get_by_role("link", name=key).click()
    assert page.locator("#key-used").inner_text() == "42"
    assert page.locator("#key-remaining").inner_text() == "158"
    assert page.locator("svg.chart rect.calls").count() == 30
    assert page.locator("#period-calls").inner_text() == "42"

    page.get_by_label("Calls to add").fill("1000")
    page.get_by_role("button", name="Top up").click()
    assert message(page) == "1000 calls added: the key has 1200 in all."
    assert page.locator("#key-limit").inner_text() == "1200"
    with _api(live_server) as api:
        quota = api.get(f"/api/license/{key}/quota").json()
    assert (quota["limit"], quota["used"], quota["rateLimitPerMinute"]) == (1200, 42, 100)
