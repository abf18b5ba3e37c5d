"""The figures of a period: validations, activations, trials and conversions per UTC day,
product, client version and country.

* validations: the counts of :mod:`.counting` (their country was told when they were written);
* activations: the ``activations`` rows (online and offline) made in the period, with the
  version and address the device reported;
* trials: the ``trials`` started in the period (version and address since they were kept);
* conversions: the first activation of a device for a product whose trial it had started.

Addresses become countries here, with the country database (:mod:`.geo`); without one, every
country is "" (unknown). Rows are added up in SQL per day, product, version (and address when
countries are told), so a period costs one grouped query per kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..models import Activation, License, Product, Trial, ValidationAnalytics
from .geo import CountryDatabase, GeoStatus

__all__ = [
    "KINDS",
    "AnalyticsReport",
    "Figures",
    "ReportFilters",
    "ReportRow",
    "analytics_report",
]

#: The kinds of figure, in the order every table shows them.
KINDS = ("validations", "activations", "trials", "conversions")
#: The longest period a report covers.
MAX_DAYS = 366


@dataclass
class Figures:
    validations: int = 0
    activations: int = 0
    trials: int = 0
    conversions: int = 0

    def add(self, other: Figures) -> None:
        for kind in KINDS:
            setattr(self, kind, getattr(self, kind) + getattr(other, kind))

    @property
    def total(self) -> int:
        return sum(getattr(self, kind) for kind in KINDS)


@dataclass(frozen=True)
class ReportFilters:
    """``product`` and ``version`` None: all; "" names validations that sent none."""

    days: int = 30
    product: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class ReportRow:
    day: date
    product: str
    version: str
    country: str
    figures: Figures


@dataclass(frozen=True)
class DailyFigures:
    """One day of the chart (``day`` and the four kinds, as dashboard/chart.py reads them)."""

    day: date
    validations: int
    activations: int
    trials: int
    conversions: int


@dataclass(frozen=True)
class AnalyticsReport:
    first_day: date
    last_day: date
    rows: list[ReportRow]
    geo: GeoStatus
    #: Every product name and version seen in the period (for the filters).
    products: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    def totals(self) -> Figures:
        total = Figures()
        for row in self.rows:
            total.add(row.figures)
        return total

    def daily(self) -> list[DailyFigures]:
        """Every day of the period, oldest first (days without anything too)."""
        per_day: dict[date, Figures] = {}
        for row in self.rows:
            per_day.setdefault(row.day, Figures()).add(row.figures)
        days = []
        day = self.first_day
        while day <= self.last_day:
            figures = per_day.get(day, Figures())
            days.append(DailyFigures(day, *(getattr(figures, kind) for kind in KINDS)))
            day += timedelta(days=1)
        return days

    def by_product_version(self) -> list[tuple[str, str, Figures]]:
        grouped = _group(self.rows, lambda row: (row.product, row.version))
        return [(product, version, figures) for (product, version), figures in grouped]

    def by_country(self) -> list[tuple[str, Figures]]:
        return [(country, figures) for (country,), figures in _group(self.rows, _country)]


def _country(row: ReportRow) -> tuple[str]:
    return (row.country,)


def _group(rows: Iterable[ReportRow], key: Any) -> list[tuple[Any, Figures]]:
    """Figures added up per ``key(row)``, the largest total first, then by key."""
    grouped: dict[Any, Figures] = {}
    for row in rows:
        grouped.setdefault(key(row), Figures()).add(row.figures)
    return sorted(grouped.items(), key=lambda item: (-item[1].total, item[0]))


def _utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column, as SQL (stored naive UTC on SQLite)."""
    if dialect == "sqlite":
        return func.date(column)
    return func.date(func.timezone("UTC", column))


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _version_matches(column: Any, version: str | None) -> Any:
    if version is None:
        return true()
    if version == "":
        return or_(column.is_(None), column == "")
    return column == version


class _Tally:
    """Rows added up per (day, product, version, country)."""

    def __init__(self, countries: CountryDatabase) -> None:
        self.countries = countries
        self.figures: dict[tuple[date, str, str, str], Figures] = {}

    def add(self, kind: str, rows: Iterable[Any]) -> None:
        for day, product, version, address, n in rows:
            country = self.countries.country(address) if address else ""
            key = (_as_date(day), product or "", (version or "").strip(), country)
            figures = self.figures.setdefault(key, Figures())
            setattr(figures, kind, getattr(figures, kind) + int(n))

    def rows(self) -> list[ReportRow]:
        return [
            ReportRow(day, product, version, country, figures)
            for (day, product, version, country), figures in sorted(self.figures.items())
        ]


async def _events(
    session: AsyncSession,
    tenant_id: int,
    since: datetime,
    filters: ReportFilters,
    *,
    kind: str,
    with_address: bool,
) -> list[Any]:
    """Activations, trials or conversions grouped per day, product, version (and address)."""
    dialect = session.get_bind().dialect.name
    table: type[Trial] | type[Activation]
    if kind == "trials":
        table, product_id, address = Trial, Trial.product_id, Trial.ip_address
        moment, version = Trial.created_at, Trial.client_version
        base = select().select_from(Trial).join(Product, Product.id == Trial.product_id)
    else:
        table, product_id, address = Activation, License.product_id, Activation.ip_address
        moment, version = Activation.created_at, Activation.client_version
        base = (
            select()
            .select_from(Activation)
            .join(License, License.id == Activation.license_id)
            .join(Product, Product.id == License.product_id)
        )
    day = _utc_day(moment, dialect)
    columns = [day, Product.name, version, address if with_address else literal_column("NULL")]
    statement = base.add_columns(*columns, func.count(table.id)).where(
        Product.tenant_id == tenant_id,
        moment >= since,
        _version_matches(version, filters.version),
    )
    if filters.product is not None:
        statement = statement.where(Product.name == filters.product)
    if kind == "conversions":
        earlier = aliased(Activation)
        earlier_license = aliased(License)
        statement = statement.where(
            exists().where(
                Trial.product_id == product_id,
                Trial.hardware_id == Activation.hardware_id,
                Trial.created_at <= Activation.created_at,
            ),
            ~exists()
            .where(
                earlier.hardware_id == Activation.hardware_id,
                earlier_license.id == earlier.license_id,
                earlier_license.product_id == product_id,
                or_(
                    earlier.created_at < Activation.created_at,
                    and_(earlier.created_at == Activation.created_at, earlier.id < Activation.id),
                ),
            )
            .correlate(Activation, License),
        )
    grouping = columns if with_address else columns[:3]
    return list((await session.execute(statement.group_by(*grouping))).all())


async def analytics_report(
    session: AsyncSession,
    tenant_id: int,
    countries: CountryDatabase,
    today: date,
    filters: ReportFilters,
) -> AnalyticsReport:
    """The tenant's figures for the ``filters.days`` days ending ``today`` (UTC)."""
    days = max(1, min(filters.days, MAX_DAYS))
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=timezone.utc)
    tally = _Tally(countries)
    statement = select(
        ValidationAnalytics.day,
        ValidationAnalytics.product_name,
        ValidationAnalytics.version,
        ValidationAnalytics.country,
        ValidationAnalytics.count,
    ).where(ValidationAnalytics.tenant_id == tenant_id, ValidationAnalytics.day >= first_day)
    if filters.product is not None:
        statement = statement.where(ValidationAnalytics.product_name == filters.product)
    if filters.version is not None:
        statement = statement.where(ValidationAnalytics.version == filters.version)
    validations = Counter[tuple[date, str, str, str]]()
    for day, product, version, country, n in await session.execute(statement):
        validations[_as_date(day), product, version, country] += int(n)
    for (day, product, version, country), n in validations.items():
        key = (day, product, version, country)
        tally.figures.setdefault(key, Figures()).validations += n
    with_address = countries.configured
    for kind in ("activations", "trials", "conversions"):
        rows = await _events(
            session, tenant_id, since, filters, kind=kind, with_address=with_address
        )
        tally.add(kind, rows)
    products = sorted(
        set(await session.scalars(select(Product.name).where(Product.tenant_id == tenant_id)))
        | {product for (_, product, _, _) in tally.figures}
    )
    versions = sorted({version for (_, _, version, _) in tally.figures})
    return AnalyticsReport(
        first_day=first_day,
        last_day=today,
        rows=tally.rows(),
        geo=countries.status(),
        products=products,
        versions=versions,
    )
