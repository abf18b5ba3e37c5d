"""Analytics: the country database, validations counted per product, version and country,
trials keeping what they need, the report of a period (each kind, conversions exactly) and
its CSV (both databases)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from exisone_server.analytics import geo
from exisone_server.analytics.counting import validation_analytics
from exisone_server.analytics.export import report_csv, safe_cell
from exisone_server.analytics.geo import CountryDatabase
from exisone_server.analytics.report import ReportFilters, analytics_report
from exisone_server.analytics.settings import AnalyticsSettings
from exisone_server.db import Database
from exisone_server.licenses.validation_stats import validation_stats
from exisone_server.models import Trial, ValidationAnalytics, ValidationCount

from .country_db import write_country_database
from .helpers import activate_body
from .seeding import Api, Seed

DE, JP = "203.0.113.5", "198.51.100.7"


@pytest.fixture
def countries(tmp_path: Path) -> Path:
    return write_country_database(tmp_path / "countries.mmdb")


@pytest.fixture
def from_ip(app: Any, seed: Seed) -> Callable[[str], Any]:
    """``from_ip(ip)``: the seed's all-permission Api, its requests coming from ``ip``."""

    @asynccontextmanager
    async def open_api(ip: str) -> AsyncIterator[Api]:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, seed.api.token)

    return open_api


def test_settings_from_the_environment(tmp_path: Path) -> None:
    assert AnalyticsSettings.from_env({}) == AnalyticsSettings(True, None)
    settings = AnalyticsSettings.from_env(
        {"EXISONE_ANALYTICS": "off", "EXISONE_GEOIP_DATABASE": str(tmp_path / "c.mmdb")}
    )
    assert settings == AnalyticsSettings(False, tmp_path / "c.mmdb")
    with pytest.raises(ValueError, match="EXISONE_ANALYTICS"):
        AnalyticsSettings.from_env({"EXISONE_ANALYTICS": "sometimes"})


def test_the_country_database_follows_its_file(
    countries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geo, "RECHECK_SECONDS", 0.0)
    database = CountryDatabase(countries)
    assert [database.country(ip) for ip in (DE, JP, "2001:db8::7", "10.0.0.1", "nonsense")] == [
        "DE",
        "JP",
        "FR",
        "",
        "",
    ]
    status = database.status()
    assert status.ok and "GeoLite2-Country" in status.description

    update = write_country_database(countries.with_suffix(".new"), {"203.0.113.0/24": "NZ"})
    os.utime(update, (1, 1))  # a different modification time, whatever the clock
    os.replace(update, countries)  # the monthly update, as geoipupdate makes it: a rename
    assert database.country(DE) == "NZ"

    broken = countries.with_suffix(".broken")
    broken.write_bytes(b"not a database")
    os.replace(broken, countries)
    assert database.country(JP) == "" and not database.status().ok
    assert not CountryDatabase(countries.with_name("missing.mmdb")).status().ok
    assert CountryDatabase(None).status().configured is False


async def test_validations_are_counted_per_product_version_and_country(
    seed: Seed, database: Database, countries: Path, from_ip: Callable[[str], Any]
) -> None:
    analytics = validation_analytics(database)
    analytics.configure(AnalyticsSettings(True, countries))
    product = await seed.product("Counted")
    license = await seed.license(product)
    body = {"activationKey": license.activation_key, "hardwareId": "HW-1"}
    async with from_ip(DE) as german, from_ip(JP) as japanese:
        for _ in range(3):
            await german.post("/api/license/validate", {**body, "productName": "Counted"})
        await german.post(
            "/api/license/validate", {**body, "productName": "Counted", "version": "2.0"}
        )
        await japanese.post("/api/license/validate", body)

    await analytics.flush()

    async with database.read() as connection:
        rows = (
            await connection.execute(
                select(
                    ValidationAnalytics.product_name,
                    ValidationAnalytics.version,
                    ValidationAnalytics.country,
                    ValidationAnalytics.count,
                ).where(ValidationAnalytics.tenant_id == seed.tenant.id)
            )
        ).all()
    assert sorted(tuple(row) for row in rows) == [
        ("", "", "JP", 1),
        ("Counted", "", "DE", 3),
        ("Counted", "2.0", "DE", 1),
    ]


async def test_analytics_off_keeps_only_the_daily_total(
    seed: Seed, database: Database, from_ip: Callable[[str], Any]
) -> None:
    validation_analytics(database).configure(AnalyticsSettings(False, None))
    async with from_ip(DE) as api:
        await api.post("/api/license/validate", {"hardwareId": "H", "activationKey": "NOPE"})
    await validation_analytics(database).flush()
    await validation_stats(database).flush()
    async with database.read() as connection:
        detailed = await connection.scalar(
            select(ValidationAnalytics.id).where(ValidationAnalytics.tenant_id == seed.tenant.id)
        )
        total = await connection.scalar(
            select(ValidationCount.count).where(ValidationCount.tenant_id == seed.tenant.id)
        )
    assert detailed is None and total == 1


async def test_a_trial_keeps_the_version_and_address_it_started_with(
    seed: Seed, from_ip: Callable[[str], Any]
) -> None:
    await seed.product("Tried", trial_days=7)
    async with from_ip(JP) as api:
        answer = await api.post(
            "/api/license/validate",
            {"hardwareId": "TRIAL-1", "productName": "Tried", "version": "0.9"},
        )
    assert answer.json()["status"] == "trial"
    async with seed.database.read_session() as session:
        trial = await session.scalar(select(Trial).where(Trial.hardware_id == "TRIAL-1"))
    assert trial is not None and (trial.client_version, trial.ip_address) == ("0.9", JP)


async def _scenario(seed: Seed, from_ip: Callable[[str], Any]) -> None:
    """D1 (DE) starts a trial with 1.0, then activates with 1.1 (a conversion), is freed and
    activates again (no second conversion); D2 (JP) activates without a trial; validations."""
    product = await seed.product("Studio", trial_days=14)
    first, second = await seed.license(product), await seed.license(product)
    async with from_ip(DE) as german, from_ip(JP) as japanese:
        trial = {"hardwareId": "D1", "productName": "Studio", "version": "1.0"}
        assert (await german.post("/api/license/validate", trial)).json()["status"] == "trial"
        for _ in range(2):
            activated = await german.post(
                "/api/license/activate", activate_body(first, product, "D1", version="1.1")
            )
            assert activated.status_code == 200, activated.text
            freed = await german.post(
                "/api/license/deactivate", {"licenseKey": first.activation_key, "hardwareId": "D1"}
            )
            assert freed.status_code == 200, freed.text
        activated = await japanese.post(
            "/api/license/activate", activate_body(second, product, "D2", version="1.1")
        )
        assert activated.status_code == 200, activated.text
        body = {"activationKey": second.activation_key, "hardwareId": "D2"}
        for _ in range(3):
            await german.post(
                "/api/license/validate", {**body, "productName": "Studio", "version": "1.1"}
            )
        await japanese.post("/api/license/validate", body)


def _figures(figures: Any) -> tuple[int, int, int, int]:
    return (figures.validations, figures.activations, figures.trials, figures.conversions)


async def test_the_report_counts_each_kind(
    seed: Seed, database: Database, countries: Path, from_ip: Callable[[str], Any]
) -> None:
    analytics = validation_analytics(database)
    analytics.configure(AnalyticsSettings(True, countries))
    await _scenario(seed, from_ip)
    await analytics.flush()
    today = datetime.now(timezone.utc).date()

    async with database.read_session() as session:
        report = await analytics_report(
            session, seed.tenant.id, analytics.countries, today, ReportFilters(days=7)
        )
        only = await analytics_report(
            session,
            seed.tenant.id,
            analytics.countries,
            today,
            ReportFilters(days=7, product="Studio", version="1.1"),
        )

    assert _figures(report.totals()) == (5, 3, 1, 1)
    assert [_figures(day) for day in report.daily()][-1] == (5, 3, 1, 1)
    assert len(report.daily()) == 7
    assert {country: _figures(f) for country, f in report.by_country()} == {
        "DE": (4, 2, 1, 1),
        "JP": (1, 1, 0, 0),
    }
    assert {(p, v): _figures(f) for p, v, f in report.by_product_version()} == {
        ("Studio", "1.1"): (3, 3, 0, 1),
        ("Studio", "1.0"): (1, 0, 1, 0),
        ("", ""): (1, 0, 0, 0),
    }
    assert _figures(only.totals()) == (3, 3, 0, 1)
    assert report.products == ["", "Studio"] and report.versions == ["", "1.0", "1.1"]


async def _report(database: Database, tenant_id: int, days: int) -> Any:
    analytics = validation_analytics(database)
    async with database.read_session() as session:
        return await analytics_report(
            session,
            tenant_id,
            analytics.countries,
            datetime.now(timezone.utc).date(),
            ReportFilters(days=days),
        )


async def test_without_a_country_database_every_country_is_unknown(
    seed: Seed, database: Database, from_ip: Callable[[str], Any]
) -> None:
    analytics = validation_analytics(database)
    analytics.configure(AnalyticsSettings(True, None))
    await _scenario(seed, from_ip)
    await analytics.flush()
    report = await _report(database, seed.tenant.id, 30)
    assert [(country, _figures(f)) for country, f in report.by_country()] == [("", (5, 3, 1, 1))]
    assert not report.geo.configured


async def test_the_csv_cannot_run_formulas(
    seed: Seed, database: Database, from_ip: Callable[[str], Any]
) -> None:
    analytics = validation_analytics(database)
    analytics.configure(AnalyticsSettings(True, None))
    async with from_ip(DE) as api:
        await api.post(
            "/api/license/validate",
            {"hardwareId": "H", "productName": '=HYPERLINK("http://x")', "version": "+1"},
        )
    await analytics.flush()
    report = await _report(database, seed.tenant.id, 7)
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert lines[0] == [
        "day",
        "product",
        "version",
        "country",
        "validations",
        "activations",
        "trials",
        "conversions",
    ]
    assert lines[1][1:] == ['\'=HYPERLINK("http://x")', "'+1", "", "1", "0", "0", "0"]
    assert [safe_cell(text) for text in ("-2", "@a", "\tx", "\rx", "ok", 7)] == [
        "'-2",
        "'@a",
        "'\tx",
        "'\rx",
        "ok",
        "7",
    ]
