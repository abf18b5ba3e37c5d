"""API Usage: the tenant's API keys with their quotas, one key's calls per day, top-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from ..api_keys.service import add_calls, key_usage, list_api_keys
from ..deps import DatabaseDep
from ..kit.time import utc_now
from .chart import daily_chart
from .web import BASE, form_int, page, perform, posted, require_user

__all__ = ["api_key_top_up", "api_usage_page"]

#: The periods a key's chart offers (days).
PERIODS = (7, 30, 90, 365)


@dataclass(frozen=True)
class _Day:
    """A day of a key's chart: the calls it consumed."""

    day: date
    calls: int


def _usage_url(activation_key: str) -> str:
    return f"{BASE}/api-usage?key={quote(activation_key, safe='')}"


@get("/api-usage")
async def api_usage_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    key: FromQuery[str] = "",
    days: FromQuery[int] = 30,
) -> Template:
    """Every API key (most used first); with ``key``, that key's calls per day."""
    user = await require_user(request, database)
    period = days if days in PERIODS else 30
    now = utc_now()
    selected = None
    async with database.read_session() as session:
        keys = await list_api_keys(session, user.tenant_id, now=now)
        if key:
            selected = await key_usage(session, user.tenant_id, key, days=period, now=now)
    chart = None
    if selected is not None:
        per_day = [_Day(date.fromisoformat(day.date), day.calls) for day in selected.usage]
        chart = daily_chart(per_day, ("calls",))
    return await page(
        request,
        database,
        user,
        "api_usage.html",
        {"keys": keys, "selected": selected, "chart": chart, "days": period, "periods": PERIODS},
    )


@post("/api-usage/{activation_key:str}/topup", status_code=200)
async def api_key_top_up(
    request: Request[Any, Any, Any], database: DatabaseDep, activation_key: FromPath[str]
) -> Redirect:
    """Add calls to a key and/or change its per-minute limit (blank: unchanged)."""
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        calls = form_int(form.get("calls"), "Calls to add", optional=True) or 0
        rate_text = form.get("rate_limit_per_minute").strip()
        rate: Any = UNSET
        if form.flag("no_rate_limit"):
            rate = None
        elif rate_text:
            rate = form_int(rate_text, "Calls per minute")
        quota = await add_calls(
            session, form.user.tenant_id, activation_key, calls, rate_limit_per_minute=rate
        )
        return f"{calls} calls added: the key has {quota.facts.calls_limit} in all."

    return await perform(
        database, form.user, work, done=lambda text: text, back=_usage_url(activation_key)
    )
