"""The signed-in customer's pages: their licenses, one license with its devices, revealing the
key, releasing a device, an offline code for a machine without internet, signing out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep, MasterKeyDep
from ..errors import ApiError
from ..kit.time import utc_now
from .access import end_all_sessions, end_session, set_flash
from .licenses import (
    customer_license,
    issue_code,
    license_view,
    list_license_views,
    release_device,
    reveal_key,
    short_hardware_id,
)
from .web import (
    SESSION_COOKIE,
    Posted,
    cookie,
    page,
    portal_of,
    posted,
    require_customer,
)

__all__ = [
    "license_page",
    "licenses_page",
    "offline_code",
    "release",
    "reveal",
    "sign_out",
    "sign_out_everywhere",
]


def _client(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


@get("/{slug:str}/licenses")
async def licenses_page(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Response[str]:
    """Every license of the customer."""
    portal = await portal_of(database, slug)
    customer = await require_customer(request, database, portal)
    async with database.read_session() as session:
        licenses = await list_license_views(session, customer, utc_now(), portal.base)
    return await page(database, portal, customer, "licenses.html", {"licenses": licenses})


async def _license_page(
    database: Any,
    form_or_request: Posted | tuple[Any, Any],
    license_id: FromPath[int],
    *,
    status_code: int = 200,
    message: tuple[str, str] | None = None,
    **extra: Any,
) -> Response[str]:
    portal, customer = (
        (form_or_request.portal, form_or_request.customer)
        if isinstance(form_or_request, Posted)
        else form_or_request
    )
    async with database.read_session() as session:
        license = await customer_license(session, customer, license_id)
        view = await license_view(session, license, utc_now(), portal.base)
    return await page(
        database,
        portal,
        customer,
        "license.html",
        {"license": view, "revealed": False, "offline": None, **extra},
        status_code=status_code,
        message=message,
    )


@get("/{slug:str}/licenses/{license_id:int}")
async def license_page(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    renewed: Annotated[str | None, QueryParameter(name="renewed")] = None,
) -> Response[str]:
    """One license: its facts, its devices (release), an offline code form. ``?renewed=1``:
    back from a renewal's checkout (the payment is confirmed by the provider's event)."""
    portal = await portal_of(database, slug)
    customer = await require_customer(request, database, portal)
    message = (
        ("ok", "Thank you. The new expiry shows here as soon as the payment is confirmed.")
        if renewed
        else None
    )
    return await _license_page(database, (portal, customer), license_id, message=message)


@post("/{slug:str}/licenses/{license_id:int}/reveal", status_code=200)
async def reveal(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
) -> Response[str]:
    """The license's page with its key shown (audited)."""
    form = await posted(request, database, slug)
    async with database.write() as session:
        await reveal_key(session, form.customer, license_id)
    return await _license_page(database, form, license_id, revealed=True)


async def _perform(
    database: Any,
    form: Posted,
    work: Callable[[AsyncSession], Awaitable[str]],
    back: str,
) -> Redirect:
    """Run ``work`` in one write transaction; its outcome (or refusal) is the next message."""
    try:
        async with database.write() as session:
            done = await work(session)
            await set_flash(session, form.customer.session_id, "ok:" + done)
    except ApiError as exc:
        async with database.write() as session:
            await set_flash(session, form.customer.session_id, "error:" + exc.message)
    return Redirect(back)


@post("/{slug:str}/licenses/{license_id:int}/release", status_code=200)
async def release(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
) -> Redirect:
    """Release one device: its seat is free at once (under the product's rules)."""
    form = await posted(request, database, slug)
    ip = _client(request)

    async def work(session: AsyncSession) -> str:
        try:
            activation_id = int(form.get("device"))
        except ValueError:
            raise ApiError("invalid_request", "Choose a device to release.") from None
        await release_device(session, form.customer, license_id, activation_id, ip_address=ip)
        return "Device released: its seat is free for another machine."

    return await _perform(database, form, work, f"{form.portal.base}/licenses/{license_id}")


@post("/{slug:str}/licenses/{license_id:int}/offline-code", status_code=200)
async def offline_code(
    slug: FromPath[str],
    license_id: FromPath[int],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    master_key: MasterKeyDep,
) -> Response[str]:
    """An offline code for a pasted hardware ID (takes a seat), to copy or download."""
    form = await posted(request, database, slug)
    hardware_id = form.get("hardware_id").strip()
    try:
        async with database.write() as session:
            _, outcome = await issue_code(
                session,
                form.customer,
                license_id,
                hardware_id,
                master_key,
                ip_address=_client(request),
            )
    except ApiError as exc:
        if exc.code == "license_not_found":
            raise
        return await _license_page(
            database,
            form,
            license_id,
            status_code=exc.status_code,
            message=("error", exc.message),
            offline={"hardware_id": hardware_id[:256], "code": None},
        )
    device = str(outcome.payload["hardwareId"])
    return await _license_page(
        database,
        form,
        license_id,
        message=("ok", "Offline code ready: copy it or download it, then enter it on the machine."),
        offline={
            "hardware_id": device,
            "code": outcome.code,
            "file_name": "offline-code-" + short_hardware_id(device).replace("…", "-") + ".txt",
        },
    )


@post("/{slug:str}/sign-out", status_code=200)
async def sign_out(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Redirect:
    """End this browser's session."""
    form = await posted(request, database, slug)
    async with database.write() as session:
        await end_session(session, form.customer.session_id)
    return _signed_out(request, form)


@post("/{slug:str}/sign-out-everywhere", status_code=200)
async def sign_out_everywhere(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Redirect:
    """End every session of this address in this portal (every browser, every device)."""
    form = await posted(request, database, slug)
    async with database.write() as session:
        await end_all_sessions(session, form.portal.tenant_id, form.customer.email)
    return _signed_out(request, form)


def _signed_out(request: Request[Any, Any, Any], form: Posted) -> Redirect:
    answer = Redirect(form.portal.base)
    answer.cookies.append(cookie(request, form.portal, SESSION_COOKIE, "", max_age=0))
    return answer
