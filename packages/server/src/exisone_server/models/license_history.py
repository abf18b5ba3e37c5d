"""The event log of a license (created, activated, deactivated, offline code issued, ...)."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, text_enum
from .ids import insertion_seq_column, random_id_column

__all__ = ["HistoryAction", "LicenseHistory"]


class HistoryAction(enum.StrEnum):
    """The ``action`` strings written to the history (and shown on the wire)."""

    CREATED = "created"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    OFFLINE_CODE_ISSUED = "offline_code_issued"
    UPDATED = "updated"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    REVOKED = "revoked"
    RENEWED = "renewed"
    DELETED = "deleted"


class LicenseHistory(Model):
    __tablename__ = "license_history"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    license_id: Mapped[int] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[HistoryAction] = mapped_column(text_enum(HistoryAction, length=40))
    hardware_id: Mapped[str | None] = mapped_column(String(256), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The access token that made the change (None for the CLI).
    access_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_tokens.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str | None] = mapped_column(Text, default=None)
    #: Who released a device (``deactivated``): ``publisher``, ``customer`` or ``application``
    #: (licenses.rules.Releaser); None for other events.
    actor: Mapped[str | None] = mapped_column(String(20), default=None)
