"""E-mail: the outbox (also the message log), templates per product and kind, a tenant's SMTP."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..kit.time import utc_now
from .base import Model, text_enum

__all__ = ["MailMessage", "MailStatus", "MailTemplate", "TenantMailSettings"]


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: Retried until ``give_up_at`` without success.
    FAILED = "failed"
    #: Not sendable: the recipient is not an address, or the mail server refused it for good.
    UNDELIVERABLE = "undeliverable"


class MailMessage(Model):
    """One e-mail, rendered when it was queued (what is stored is what is sent)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_due", "status", "next_attempt_at"),
        Index("ix_mail_messages_tenant_id_id", "tenant_id", "id"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: purchase, renewal_reminder, license_expired, trial_ending, your_keys (mail.kinds).
    kind: Mapped[str] = mapped_column(String(30))
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    license_id: Mapped[int | None] = mapped_column(
        ForeignKey("licenses.id", ondelete="SET NULL"), default=None, index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    #: The ``Message-ID`` header, the same on every attempt (a resend of a sent message gets a
    #: new one, so the recipient's mail client does not drop it as a duplicate).
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    #: Makes a message happen once (e.g. ``renewal_reminder:<license>:<expiry>``); None = no rule.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    status: Mapped[MailStatus] = mapped_column(
        text_enum(MailStatus),
        default=MailStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: Retries stop (status ``failed``) once this moment has passed.
    give_up_at: Mapped[datetime]
    #: A worker holds the message until then (claimed with a conditional UPDATE).
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    #: What went wrong last, without credentials (mail.smtp.describe_error).
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class MailTemplate(Model):
    """A tenant's own subject, text and HTML for one message kind: for one product, or for all
    its products (``product_id`` None). Checked when saved (mail.templates.check_template)."""

    __tablename__ = "mail_templates"
    __table_args__ = (
        Index("uq_mail_templates_product_kind", "tenant_id", "product_id", "kind", unique=True),
        Index(
            "uq_mail_templates_default_kind",
            "tenant_id",
            "kind",
            unique=True,
            sqlite_where=text("product_id IS NULL"),
            postgresql_where=text("product_id IS NULL"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class TenantMailSettings(Model):
    """A tenant's own mail server and sender; unset fields fall back to the server's."""

    __tablename__ = "tenant_mail_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), unique=True
    )
    #: None = send through the server-wide SMTP (EXISONE_SMTP_URL).
    smtp_host: Mapped[str | None] = mapped_column(String(253), default=None)
    smtp_port: Mapped[int | None] = mapped_column(default=None)
    #: ``starttls`` (required), ``tls`` (implicit, smtps) or ``none`` (a local relay).
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    smtp_username: Mapped[str | None] = mapped_column(String(320), default=None)
    #: AES-GCM (master key) nonce and ciphertext of the SMTP password; never shown again.
    password_nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    password_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    master_key_id: Mapped[str | None] = mapped_column(String(16), default=None)
    #: ``From`` of the tenant's messages (e.g. ``Acme Sales <sales@acme.example>``).
    from_address: Mapped[str | None] = mapped_column(String(320), default=None)
    #: The ``{{SupportEmail}}`` placeholder and ``Reply-To``; None = the From address.
    support_address: Mapped[str | None] = mapped_column(String(320), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
