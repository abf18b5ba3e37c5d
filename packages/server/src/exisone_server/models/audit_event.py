"""The audit log: one append-only row per publisher action (who, what, when, from which IP)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["AuditEvent"]


class AuditEvent(Model):
    """Written in the transaction of the action; never updated or deleted (triggers refuse it)."""

    __tablename__ = "audit_log"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (Index("ix_audit_log_tenant_id_seq", "tenant_id", "seq"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    #: ``token`` (an access token), ``user`` (a dashboard user) or ``cli``.
    actor_type: Mapped[str] = mapped_column(String(20))
    #: The token's public id, the user's e-mail, or the operating-system user of the CLI.
    actor: Mapped[str] = mapped_column(String(320))
    #: Dotted action name, e.g. ``license.revoke``, ``product.create``, ``token.create``.
    action: Mapped[str] = mapped_column(String(60))
    #: What was acted on: ``license``, ``product``, ``plan``, ``crypto_key``, ``access_token``.
    target_type: Mapped[str | None] = mapped_column(String(40), default=None)
    #: Its key or id (an activation key, a product id, a token public id ...).
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Extra facts (never secrets): changed fields, new expiry, plan id ...
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
