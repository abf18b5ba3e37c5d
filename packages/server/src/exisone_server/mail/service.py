"""What the dashboard, the CLI and the API do with mail: a tenant's SMTP settings, templates,
the message log (resend), and a test message sent at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..kit.time import format_expiration, utc_now
from ..models import MailMessage, MailStatus, MailTemplate, Product, TenantMailSettings
from .addresses import check_sender, recipient
from .kinds import LICENSE_KINDS, MailKind
from .message import build_message, envelope_sender
from .outbox import new_message_id, new_messages
from .routing import Route, encrypt_password, load_tenant_settings, resolve_route
from .settings import MailSettings
from .smtp import SECURITY_MODES, SmtpServer, describe_error, open_connection
from .templates import TemplateSource, check_template

__all__ = [
    "MESSAGE_PAGE",
    "MailSendFailed",
    "MailStatusView",
    "SmtpForm",
    "check_template",
    "delete_template",
    "list_messages",
    "mail_status",
    "message_view",
    "resend_message",
    "save_smtp_settings",
    "save_template",
    "send_test",
]

#: Messages listed per page, newest first.
MESSAGE_PAGE = 100


class MailSendFailed(BadRequest):
    """502 ``mail_send_failed``: the mail server did not take the test message."""

    status_code = 502

    def __init__(self, message: str) -> None:
        super().__init__("mail_send_failed", message)


def _invalid(message: str) -> BadRequest:
    return BadRequest("invalid_mail_settings", f"Invalid mail settings: {message}")


@dataclass(frozen=True)
class SmtpForm:
    """A tenant's settings as entered. ``password`` None keeps the stored one; "" removes it."""

    host: str = ""
    port: int | None = None
    security: str = "starttls"
    username: str = ""
    password: str | None = None
    from_address: str = ""
    support_address: str = ""


async def save_smtp_settings(
    session: AsyncSession, tenant_id: int, master_key: MasterKey, form: SmtpForm
) -> TenantMailSettings:
    """Store the tenant's SMTP server and sender (the password encrypted under the master key)
    and make its queued messages due now; 400 ``invalid_mail_settings``."""
    host = form.host.strip()
    if form.security not in SECURITY_MODES:
        raise _invalid(f"security must be one of {', '.join(SECURITY_MODES)}.")
    if host:
        try:
            SmtpServer.with_default_port(host, form.port, form.security)
        except ValueError as exc:
            raise _invalid(f"{exc}.") from None
    addresses: dict[str, str | None] = {}
    for name, label, value in (
        ("from_address", "From", form.from_address),
        ("support_address", "support address", form.support_address),
    ):
        try:
            addresses[name] = check_sender(value, label) if value.strip() else None
        except ValueError as exc:
            raise _invalid(f"{exc}.") from None
    if len(form.username) > 320:
        raise _invalid("the user name is over 320 characters.")
    row = await load_tenant_settings(session, tenant_id)
    if row is None:
        row = TenantMailSettings(tenant_id=tenant_id)
        session.add(row)
    row.smtp_host = host or None
    row.smtp_port = form.port if host else None
    row.smtp_security = form.security
    row.smtp_username = form.username.strip() or None if host else None
    if not host or form.password == "":
        row.password_nonce = row.password_ciphertext = row.master_key_id = None
    elif form.password is not None:
        row.password_nonce, row.password_ciphertext = encrypt_password(
            master_key, tenant_id, form.password
        )
        row.master_key_id = master_key.key_id
    row.from_address = addresses["from_address"]
    row.support_address = addresses["support_address"]
    row.updated_at = utc_now()
    await session.flush()
    await session.execute(
        update(MailMessage)
        .where(MailMessage.tenant_id == tenant_id, MailMessage.status == MailStatus.PENDING)
        .values(next_attempt_at=utc_now())
    )
    new_messages.arm(session)
    return row


@dataclass(frozen=True)
class MailStatusView:
    """What the E-mail page says about the tenant's mail."""

    configured: bool
    #: e.g. "your SMTP server smtp.example.com:587 (STARTTLS)" or why mail is not configured.
    text: str
    sender: str | None


async def mail_status(
    session: AsyncSession, tenant_id: int, settings: MailSettings, master_key: MasterKey
) -> MailStatusView:
    row = await load_tenant_settings(session, tenant_id)
    try:
        route = resolve_route(row, settings, master_key)
    except ApiError as exc:
        return MailStatusView(False, exc.message, None)
    whose = "your SMTP server" if route.own else "the server's SMTP server"
    return MailStatusView(True, f"Sending through {whose} {route.server.describe()}.", route.sender)


async def send_test(
    session: AsyncSession,
    tenant_id: int | None,
    to: str,
    settings: MailSettings,
    master_key: MasterKey,
) -> str:
    """Send a short message to ``to`` now (not queued), through the tenant's route (or the
    server's with ``tenant_id`` None); returns the Message-ID. 400 for a bad address, 409
    ``mail_not_configured``, 502 ``mail_send_failed`` with the server's words."""
    address = recipient(to)
    if address is None:
        raise BadRequest("invalid_request", "Invalid request: that is not an e-mail address.")
    row = await load_tenant_settings(session, tenant_id) if tenant_id is not None else None
    route = resolve_route(row, settings, master_key)
    message_id = new_message_id(settings)
    message = build_message(
        route,
        to=address,
        subject="ExisOne server: test message",
        text=_test_text(route),
        html="",
        message_id=message_id,
        created_at=utc_now(),
    )
    try:
        async with open_connection(
            route.server, ca_file=settings.ca_file, timeout=settings.timeout_seconds
        ) as connection:
            await connection.send(message, envelope_sender(route), [address])
    except Exception as exc:
        error = describe_error(exc, route.server)
        raise MailSendFailed(f"The test message was not sent: {error}") from None
    return message_id


def _test_text(route: Route) -> str:
    return (
        "This is a test message from your ExisOne license server.\n\n"
        f"It was sent through {route.server.describe()} as {route.sender}.\n"
        "Your customers' messages go out the same way.\n"
    )


async def list_messages(
    session: AsyncSession, tenant_id: int, *, status: str | None = None
) -> list[MailMessage]:
    """The tenant's latest messages, newest first (optionally of one status)."""
    statement = select(MailMessage).where(MailMessage.tenant_id == tenant_id)
    if status:
        try:
            chosen = MailStatus(status)
        except ValueError:
            raise BadRequest(
                "invalid_request",
                f"Invalid request: status must be one of {', '.join(s.value for s in MailStatus)}.",
            ) from None
        statement = statement.where(MailMessage.status == chosen)
    rows = await session.scalars(statement.order_by(MailMessage.id.desc()).limit(MESSAGE_PAGE))
    return list(rows)


async def resend_message(
    session: AsyncSession, tenant_id: int, message_id: int, settings: MailSettings
) -> MailMessage:
    """Queue the message again now with a fresh retry window; a message that was sent gets a new
    Message-ID (a mail client drops a second message with the same one). 404
    ``message_not_found``; 409 ``message_in_flight`` while a worker is sending it; the recipient
    must be an address (400)."""
    message = await session.scalar(
        select(MailMessage)
        .where(MailMessage.id == message_id, MailMessage.tenant_id == tenant_id)
        .with_for_update()
    )
    if message is None:
        raise NotFound("message_not_found", f"No e-mail message with id {message_id}.")
    now = utc_now()
    if message.locked_until is not None and message.locked_until > now:
        raise Conflict("message_in_flight", "This message is being sent right now.")
    if recipient(message.to_address) is None:
        raise BadRequest(
            "invalid_request", f"Cannot resend: {message.to_address!r} is not an e-mail address."
        )
    if message.status is MailStatus.SENT:
        message.message_id = new_message_id(settings)
    message.status = MailStatus.PENDING
    message.next_attempt_at = now
    message.give_up_at = now + settings.retry_window
    message.last_error = None
    message.sent_at = None
    await session.flush()
    new_messages.arm(session)
    return message


async def _template_row(
    session: AsyncSession, tenant_id: int, product_id: int | None, kind: MailKind
) -> MailTemplate | None:
    return await session.scalar(
        select(MailTemplate)
        .where(
            MailTemplate.tenant_id == tenant_id,
            MailTemplate.kind == kind.value,
            MailTemplate.product_id.is_(None)
            if product_id is None
            else MailTemplate.product_id == product_id,
        )
        .with_for_update()
    )


async def _check_scope(
    session: AsyncSession, tenant_id: int, product_id: int | None, kind: MailKind
) -> None:
    if product_id is None:
        return
    if kind not in LICENSE_KINDS:
        raise BadRequest(
            "invalid_request", f"Invalid request: {kind} templates are not set per product."
        )
    found = await session.scalar(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.id == product_id)
    )
    if found is None:
        raise NotFound("product_not_found", f"No product with id {product_id}.")


async def save_template(
    session: AsyncSession,
    tenant_id: int,
    product_id: int | None,
    kind: MailKind,
    source: TemplateSource,
) -> MailTemplate:
    """Store the tenant's template for ``kind`` (one product's, or all products' with
    ``product_id`` None) once :func:`.templates.check_template` accepts it (else 400
    ``invalid_mail_template``)."""
    await _check_scope(session, tenant_id, product_id, kind)
    check_template(kind, source)
    row = await _template_row(session, tenant_id, product_id, kind)
    if row is None:
        row = MailTemplate(tenant_id=tenant_id, product_id=product_id, kind=kind.value)
        session.add(row)
    row.subject, row.text_body, row.html_body = source.subject, source.text, source.html
    row.updated_at = utc_now()
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("template_exists", "This template was saved meanwhile; reload.") from None
    return row


async def delete_template(
    session: AsyncSession, tenant_id: int, product_id: int | None, kind: MailKind
) -> bool:
    """Remove the tenant's template (the next level applies again); False when none existed."""
    row = await _template_row(session, tenant_id, product_id, kind)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


def message_view(row: MailMessage) -> dict[str, Any]:
    """A message of the log for JSON (the API, ``mail queue --json``); no bodies."""
    return {
        "id": row.id,
        "kind": row.kind,
        "to": row.to_address,
        "subject": row.subject,
        "status": row.status.value,
        "attempts": row.attempts,
        "createdAt": format_expiration(row.created_at),
        "nextAttemptAt": format_expiration(row.next_attempt_at)
        if row.status is MailStatus.PENDING
        else None,
        "sentAt": format_expiration(row.sent_at) if row.sent_at else None,
        "lastError": row.last_error,
        "messageId": row.message_id,
    }
