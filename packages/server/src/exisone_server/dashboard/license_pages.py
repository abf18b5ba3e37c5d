"""License keys: generate, search and page, view one, act on it, offline codes; activity."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_license_audit
from ..crypto.master_key import MasterKey
from ..deps import DatabaseDep, MasterKeyDep
from ..errors import ApiError
from ..kit.time import format_expiration, utc_now
from ..licenses.leases import end_lease
from ..licenses.service import get_license, license_feature_names, release_outlook
from ..models import License, Product
from ..plans.service import list_plans
from ..products.service import list_products
from ..publisher import service
from ..publisher.activity import list_devices, list_trials, set_trial_expiration
from ..publisher.leases import lease_line, live_leases
from ..publisher.queries import (
    LicenseFilters,
    PageRequest,
    license_detail,
    license_history,
    list_licenses,
)
from ..publisher.schemas import LicenseExtend, LicensePage, LicenseUpdate
from .accounts import SessionView
from .mail_pages import email_keys
from .web import BASE, form_int, page, perform, posted, require_user

__all__ = [
    "activity_page",
    "key_action",
    "key_offline_code",
    "key_page",
    "keys_generate",
    "keys_page",
    "trial_expiration",
]

PAGE_SIZE = 25
#: Most keys one "generate many" request makes.
MAX_BATCH = 100


def _number(text: str) -> int | None:
    """A whole number from a query string, or None (blank or not a number)."""
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _key_url(activation_key: str) -> str:
    return f"{BASE}/keys/{quote(activation_key, safe='')}"


@get("/keys")
async def keys_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    q: FromQuery[str] = "",
    status: FromQuery[str] = "",
    product: FromQuery[str] = "",
    page_number: FromQuery[str] = "1",
) -> Template:
    """Search, filter and page through keys."""
    user = await require_user(request, database)
    product_id = _number(product)
    number = _number(page_number) or 1
    error = None
    async with database.read_session() as session:
        products = await list_products(session, user.tenant_id)
        plans = await list_plans(session, user.tenant_id)
        try:
            found = await list_licenses(
                session,
                user.tenant_id,
                LicenseFilters(product_id=product_id, status=status or None, q=q or None),
                PageRequest(max(number, 1), PAGE_SIZE),
                utc_now(),
            )
        except ApiError as exc:
            error = exc.message
            found = LicensePage(items=[], page=1, page_size=PAGE_SIZE, total_count=0, total_pages=0)
    assert isinstance(found, LicensePage)
    query = {"q": q, "status": status, "product": product_id or ""}
    return await page(
        request,
        database,
        user,
        "keys.html",
        {
            "found": found,
            "products": products,
            "plans": plans,
            "q": q,
            "status": status,
            "product_id": product_id,
            "query": urlencode(query),
            "generated": [],
        },
        message=("error", error) if error else None,
    )


@post("/keys/generate", status_code=200)
async def keys_generate(request: Request[Any, Any, Any], database: DatabaseDep) -> Any:
    """Generate one or many keys (a corporate plan makes corporate keys); shows them."""
    form = await posted(request, database)
    user = form.user
    try:
        count = form_int(form.get("count", "1"), "Number of keys") or 1
        if not 1 <= count <= MAX_BATCH:
            raise ApiError("invalid_request", f"Generate between 1 and {MAX_BATCH} keys at once.")
        plan_id = form_int(form.get("plan_id"), "Plan", optional=True)
        days = form_int(form.get("validity_days"), "Validity days", optional=True)
        async with database.write() as session:
            keys = [
                await service.generate_license(
                    session,
                    user.tenant_id,
                    product_name=form.get("product_name"),
                    email=form.get("email"),
                    plan_id=plan_id,
                    validity_days=days,
                )
                for _ in range(count)
            ]
            generated = [_summary(key) for key in keys]
    except ApiError as exc:
        return await _keys_with(request, database, user, [], ("error", exc.message), 400)
    noun = "key" if count == 1 else "keys"
    return await _keys_with(
        request, database, user, generated, ("ok", f"Generated {count} {noun}."), 200
    )


def _summary(license: License) -> dict[str, Any]:
    return {
        "activation_key": license.activation_key,
        "email": license.email,
        "is_corporate": license.is_corporate,
        "max_seats": license.max_seats,
        "expiration": format_expiration(license.expires_at),
    }


async def _keys_with(
    request: Request[Any, Any, Any],
    database: Any,
    user: SessionView,
    generated: list[dict[str, Any]],
    message: tuple[str, str],
    status_code: int,
) -> Template:
    async with database.read_session() as session:
        products = await list_products(session, user.tenant_id)
        plans = await list_plans(session, user.tenant_id)
        found = await list_licenses(
            session, user.tenant_id, LicenseFilters(), PageRequest(1, PAGE_SIZE), utc_now()
        )
    return await page(
        request,
        database,
        user,
        "keys.html",
        {
            "found": found,
            "products": products,
            "plans": plans,
            "q": "",
            "status": "",
            "product_id": None,
            "query": "",
            "generated": generated,
        },
        message=message,
        status_code=status_code,
    )


async def _key_context(database: Any, user: SessionView, activation_key: str) -> dict[str, Any]:
    async with database.read_session() as session:
        license = await get_license(session, user.tenant_id, activation_key)
        features = await license_feature_names(session, license.id)
        detail = await license_detail(session, user.tenant_id, license.id, features, utc_now())
        history = await license_history(session, license.id)
        product = await session.get(Product, license.product_id)
        assert product is not None  # foreign key
        policy, wait = await release_outlook(session, license, product, utc_now())
        leases = [lease_line(lease) for lease in await live_leases(session, license)]
    return {
        "license": detail,
        "leases": leases,
        "history": history,
        "offline": None,
        "release_policy": policy,
        "release_wait": wait,
    }


@get("/keys/{activation_key:str}")
async def key_page(
    request: Request[Any, Any, Any], database: DatabaseDep, activation_key: FromPath[str]
) -> Template:
    """One key with its activations and history, and its actions."""
    user = await require_user(request, database)
    return await page(
        request, database, user, "key.html", await _key_context(database, user, activation_key)
    )


@post("/keys/{activation_key:str}/{action:str}", status_code=200)
async def key_action(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    activation_key: FromPath[str],
    action: FromPath[str],
) -> Redirect:
    """revoke / suspend / resume / extend / free (a device) / email-keys / floating (on or
    off) / end-lease."""
    form = await posted(request, database)
    tenant = form.user.tenant_id
    client_ip = request.client.host if request.client else None

    async def work(session: AsyncSession) -> str:
        if action in service.STATUS_CHANGES:
            await service.change_status(
                session, tenant, activation_key, action, note=form.get("note") or None
            )
            return {"revoke": "Key revoked.", "suspend": "Key suspended."}.get(
                action, "Key resumed."
            )
        if action == "extend":
            choice = form.get("mode", "days")
            data = LicenseExtend(
                days=form_int(form.get("days"), "Days") if choice == "days" else None,
                expiration_date=form.get("expiration_date") if choice == "date" else None,
                perpetual=choice == "perpetual",
                note=form.get("note") or None,
            )
            license = await service.extend_license(session, tenant, activation_key, data)
            return f"Key now expires {format_expiration(license.expires_at)}."
        if action == "free":
            await service.free_device(
                session, tenant, activation_key, form.get("hardware_id"), ip_address=client_ip
            )
            return "Device freed: its seat can be used again."
        if action == "email-keys":
            return await email_keys(session, tenant, activation_key)
        if action == "floating":
            floating = form.flag("is_floating")
            await service.update_license(
                session, tenant, activation_key, LicenseUpdate(is_floating=floating)
            )
            return "Key is floating: its seats are leases." if floating else "Key is not floating."
        if action == "end-lease":
            license = await get_license(session, tenant, activation_key, lock=True)
            lease = await end_lease(session, license, form.get("lease_id"))
            await record_license_audit(
                session, license, "license.end_lease", hardware_id=lease.hardware_id
            )
            return f"Lease of {lease.hardware_id} ended: its seat is free."
        raise ApiError("invalid_request", f"Unknown action {action!r}.", status_code=404)

    return await perform(
        database, form.user, work, done=lambda text: text, back=_key_url(activation_key)
    )


@post("/keys/{activation_key:str}/offline-code", status_code=200)
async def key_offline_code(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    master_key: MasterKeyDep,
    activation_key: FromPath[str],
) -> Template:
    """Sign an Offline Activation Code for a hardware ID and show it with a copy button."""
    form = await posted(request, database)
    user = form.user
    message: tuple[str, str]
    code: str | None = None
    try:
        code = await _issue(database, master_key, user, activation_key, form.get("hardware_id"))
        message = ("ok", "Offline Activation Code ready: copy it to the customer.")
    except ApiError as exc:
        message = ("error", exc.message)
    context = await _key_context(database, user, activation_key)
    context["offline"] = {"code": code, "hardware_id": form.get("hardware_id")}
    return await page(
        request,
        database,
        user,
        "key.html",
        context,
        message=message,
        status_code=200 if code else 400,
    )


async def _issue(
    database: Any, master_key: MasterKey, user: SessionView, activation_key: str, hwid: str
) -> str:
    async with database.write() as session:
        _, outcome = await service.issue_offline_code(
            session, user.tenant_id, activation_key, hwid, master_key
        )
    code: str = outcome.code
    return code


@get("/activity")
async def activity_page(
    request: Request[Any, Any, Any], database: DatabaseDep, product: FromQuery[str] = ""
) -> Template:
    """Devices holding seats and trials per product, with editable expirations."""
    user = await require_user(request, database)
    product_id = _number(product)
    async with database.read_session() as session:
        devices = await list_devices(session, user.tenant_id)
        trials = await list_trials(session, user.tenant_id, product_id)
        products = await list_products(session, user.tenant_id)
    return await page(
        request,
        database,
        user,
        "activity.html",
        {
            "devices": devices,
            "trials": trials,
            "products": products,
            "product_id": product_id,
            "now": utc_now(),
        },
    )


@post("/activity/trials/{trial_id:int}", status_code=200)
async def trial_expiration(
    request: Request[Any, Any, Any], database: DatabaseDep, trial_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        trial = await set_trial_expiration(
            session, form.user.tenant_id, trial_id, form.get("expiration_date")
        )
        return f"Trial now ends {format_expiration(trial.expires_at)}."

    return await perform(database, form.user, work, done=lambda text: text, back=f"{BASE}/activity")
