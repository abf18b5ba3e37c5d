"""Analytics: validations, activations, trials and conversions over time, per product and
version, per country (with a country database), and as CSV."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from ..analytics.counting import validation_analytics
from ..analytics.export import report_csv
from ..analytics.report import KINDS, AnalyticsReport, ReportFilters, analytics_report
from ..deps import DatabaseDep
from ..kit.time import utc_now
from .chart import daily_chart
from .web import page, require_user

__all__ = ["analytics_csv", "analytics_page"]

#: The periods the page offers (days).
PERIODS = (7, 30, 90, 365)
#: The filter value that picks what clients did not send (no product named, no version).
NOT_SENT = "-"


def _filters(days: int, product: str, version: str) -> ReportFilters:
    """The report's filters from the query: "" = all, NOT_SENT ("-") = none was sent."""
    return ReportFilters(
        days=days if days in PERIODS else 30,
        product=None if not product else ("" if product == NOT_SENT else product),
        version=None if not version else ("" if version == NOT_SENT else version),
    )


async def _report(database: Any, tenant_id: int, filters: ReportFilters) -> AnalyticsReport:
    analytics = validation_analytics(database)
    await analytics.flush()  # this process's latest counts (others: within 10 s)
    async with database.read_session() as session:
        return await analytics_report(
            session, tenant_id, analytics.countries, utc_now().date(), filters
        )


@get("/analytics")
async def analytics_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    days: FromQuery[int] = 30,
    product: FromQuery[str] = "",
    version: FromQuery[str] = "",
) -> Template:
    user = await require_user(request, database)
    filters = _filters(days, product, version)
    report = await _report(database, user.tenant_id, filters)
    totals = report.totals()
    return await page(
        request,
        database,
        user,
        "analytics.html",
        {
            "report": report,
            "filters": filters,
            "periods": PERIODS,
            "kinds": KINDS,
            "totals": totals,
            "chart": daily_chart(report.daily(), KINDS),
            "not_sent": NOT_SENT,
            "query": request.url.query or "",
        },
    )


@get("/analytics.csv")
async def analytics_csv(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    days: FromQuery[int] = 30,
    product: FromQuery[str] = "",
    version: FromQuery[str] = "",
) -> Response[str]:
    """The report of the page's filters, one line per day, product, version and country."""
    user = await require_user(request, database)
    report = await _report(database, user.tenant_id, _filters(days, product, version))
    name = f"exisone-analytics-{report.first_day.isoformat()}-{report.last_day.isoformat()}.csv"
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
