"""E-mail: SMTP settings, a test message, templates with a live preview, the message log."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from jinja2 import TemplateError
from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep, MasterKeyDep
from ..errors import ApiError, BadRequest
from ..licenses.service import get_license
from ..mail import MailKind, MailSettings, send_keys
from ..mail import service as mail
from ..mail.kinds import LICENSE_KINDS, PLACEHOLDERS, sample_context
from ..mail.outbox import template_source
from ..mail.routing import load_tenant_settings
from ..mail.smtp import SECURITY_MODES
from ..mail.templates import TemplateSource, render
from ..products.service import list_products
from .accounts import set_flash
from .web import BASE, Posted, form_int, page, perform, posted, require_user

__all__ = [
    "mail_page",
    "mail_preview",
    "mail_preview_html",
    "mail_resend",
    "mail_settings_save",
    "mail_template_page",
    "mail_template_reset",
    "mail_template_save",
    "mail_test",
]

_MAIL = f"{BASE}/mail"
#: The preview document's own headers: inline styles (as e-mails have), no scripts, framed by
#: the editor page only.
_PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
        "frame-ancestors 'self'; sandbox"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


def _settings() -> MailSettings:
    try:
        return MailSettings.from_env()
    except ValueError as exc:
        raise ApiError("mail_not_configured", f"The server's mail settings: {exc}") from None


def _kind(value: str) -> MailKind:
    try:
        return MailKind(value)
    except ValueError:
        raise BadRequest("invalid_request", f"Unknown message kind {value!r}.") from None


@get("/mail")
async def mail_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    master_key: MasterKeyDep,
    status: Annotated[str | None, QueryParameter(name="status")] = None,
) -> Template:
    """Status, SMTP settings, test message, templates and the latest messages."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        view = await mail.mail_status(session, user.tenant_id, _settings(), master_key)
        smtp = await load_tenant_settings(session, user.tenant_id)
        messages = await mail.list_messages(session, user.tenant_id, status=status or None)
        products = await list_products(session, user.tenant_id)
    context = {
        "status": view,
        "smtp": smtp,
        "has_password": bool(smtp and smtp.password_ciphertext),
        "security_modes": SECURITY_MODES,
        "messages": messages,
        "status_filter": status or "",
        "kinds": list(MailKind),
        "license_kinds": [kind.value for kind in LICENSE_KINDS],
        "products": products,
    }
    return await page(request, database, user, "mail.html", context)


@post("/mail/settings", status_code=200)
async def mail_settings_save(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Redirect:
    """Save the tenant's SMTP server; an empty password field keeps the stored password."""
    form = await posted(request, database)

    async def work(session: AsyncSession) -> None:
        password = "" if form.flag("remove_password") else form.get("smtp_password") or None
        await mail.save_smtp_settings(
            session,
            form.user.tenant_id,
            master_key,
            mail.SmtpForm(
                host=form.get("smtp_host"),
                port=form_int(form.get("smtp_port"), "Port", optional=True),
                security=form.get("smtp_security", "starttls"),
                username=form.get("smtp_username"),
                password=password,
                from_address=form.get("from_address"),
                support_address=form.get("support_address"),
            ),
        )

    return await perform(database, form.user, work, done="Mail settings saved.", back=_MAIL)


@post("/mail/test", status_code=200)
async def mail_test(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Redirect:
    """Send a test message now; the outcome (or the server's words) is the page's message.
    No write transaction is held while the mail server answers."""
    form = await posted(request, database)
    to = form.get("to")
    try:
        async with database.read_session() as session:
            await mail.send_test(session, form.user.tenant_id, to, _settings(), master_key)
        outcome = f"ok:Test message sent to {to.strip()}."
    except ApiError as exc:
        outcome = f"error:{exc.message}"
    async with database.write() as session:
        await set_flash(session, form.user.session_id, outcome)
    return Redirect(_MAIL)


@post("/mail/messages/{message_id:int}/resend", status_code=200)
async def mail_resend(
    request: Request[Any, Any, Any], database: DatabaseDep, message_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> None:
        await mail.resend_message(session, form.user.tenant_id, message_id, _settings())

    return await perform(
        database, form.user, work, done="Message queued: it is sent in a moment.", back=_MAIL
    )


async def email_keys(session: AsyncSession, tenant_id: int, activation_key: str) -> str:
    """The key page's "E-mail the customer their keys": every key of the key's address."""
    license = await get_license(session, tenant_id, activation_key)
    message = await send_keys(session, tenant_id, license.email, settings=_settings())
    if message is None:
        raise BadRequest("invalid_request", "This key has no customer e-mail address.")
    return f"Queued an e-mail with their keys to {message.to_address}."


# -- templates -----------------------------------------------------------------------------------


def _scope(kind: MailKind, product_text: str) -> int | None:
    product_id = form_int(product_text, "Product", optional=True)
    return product_id if kind in LICENSE_KINDS else None


async def _editor_context(
    session: AsyncSession, tenant_id: int, kind: MailKind, product_id: int | None
) -> dict[str, Any]:
    source, row = await template_source(session, tenant_id, product_id, kind)
    custom = row is not None and row.product_id == product_id
    products = await list_products(session, tenant_id)
    product = next((p for p in products if p.id == product_id), None)
    if product_id is not None and product is None:
        raise ApiError("product_not_found", f"No product with id {product_id}.", status_code=404)
    return {
        "kind": kind,
        "product": product,
        "source": source,
        "custom": custom,
        "inherited": row is not None and not custom,
        "placeholders": PLACEHOLDERS[kind],
    }


@get("/mail/template")
async def mail_template_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    kind: Annotated[str, QueryParameter(name="kind")] = "purchase",
    product: Annotated[str, QueryParameter(name="product")] = "",
) -> Template:
    """The editor of one template (one product's, or all products'), with its live preview."""
    user = await require_user(request, database)
    chosen = _kind(kind)
    async with database.read_session() as session:
        context = await _editor_context(session, user.tenant_id, chosen, _scope(chosen, product))
    return await page(request, database, user, "mail_template.html", context)


def _posted_source(form: Posted) -> TemplateSource:
    return TemplateSource(form.get("subject"), form.get("text_body"), form.get("html_body"))


def _editor_url(kind: MailKind, product_id: int | None) -> str:
    suffix = f"&product={product_id}" if product_id is not None else ""
    return f"{_MAIL}/template?kind={kind.value}{suffix}"


@post("/mail/template", status_code=200)
async def mail_template_save(
    request: Request[Any, Any, Any], database: DatabaseDep
) -> Template | Redirect:
    """Save a template once it passes the checks; refused, the editor keeps what was typed."""
    form = await posted(request, database)
    kind = _kind(form.get("kind"))
    product_id = _scope(kind, form.get("product_id"))
    source = _posted_source(form)
    try:
        async with database.write() as session:
            await mail.save_template(session, form.user.tenant_id, product_id, kind, source)
    except ApiError as exc:
        async with database.read_session() as session:
            context = await _editor_context(session, form.user.tenant_id, kind, product_id)
        context["source"] = source
        return await page(
            request,
            database,
            form.user,
            "mail_template.html",
            context,
            status_code=exc.status_code,
            message=("error", exc.message),
        )

    async def done(_: AsyncSession) -> None:
        return None

    return await perform(
        database, form.user, done, done="Template saved.", back=_editor_url(kind, product_id)
    )


@post("/mail/template/reset", status_code=200)
async def mail_template_reset(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    form = await posted(request, database)
    kind = _kind(form.get("kind"))
    product_id = _scope(kind, form.get("product_id"))

    async def work(session: AsyncSession) -> str:
        removed = await mail.delete_template(session, form.user.tenant_id, product_id, kind)
        return "Template removed: the next level applies." if removed else "Nothing to remove."

    return await perform(
        database, form.user, work, done=lambda text: text, back=_editor_url(kind, product_id)
    )


def _preview(form: Posted) -> tuple[MailKind, Any]:
    kind = _kind(form.get("kind"))
    try:
        mail.check_template(kind, _posted_source(form))
        return kind, render(_posted_source(form), sample_context(kind))
    except ApiError as exc:
        return kind, exc.message
    except TemplateError as exc:  # (check_template turns these into ApiError; kept for safety)
        return kind, str(exc)


@post("/mail/preview", status_code=200)
async def mail_preview(request: Request[Any, Any, Any], database: DatabaseDep) -> dict[str, Any]:
    """The editor's live preview (JSON): the subject and plain text rendered with sample
    values, or why the template would be refused."""
    _, rendered = _preview(await posted(request, database))
    if isinstance(rendered, str):
        return {"ok": False, "error": rendered}
    return {"ok": True, "subject": rendered.subject, "text": rendered.text}


@post("/mail/preview.html", status_code=200)
async def mail_preview_html(
    request: Request[Any, Any, Any], database: DatabaseDep
) -> Response[str]:
    """The HTML part rendered with sample values, as a document for the preview frame."""
    _, rendered = _preview(await posted(request, database))
    body = (
        f'<p style="color:#a4161a">{escape(rendered)}</p>'
        if isinstance(rendered, str)
        else rendered.html
    )
    return Response(body, media_type=MediaType.HTML, headers=_PREVIEW_HEADERS)
