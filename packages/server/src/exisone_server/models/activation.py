"""An activation: a license bound to one device (hardware ID); one seat while active."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["Activation"]


class Activation(Model):
    __tablename__ = "activations"

    license_id: Mapped[int] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), index=True
    )
    #: Normalised hardware ID (kit.hardware.normalize_hardware_id).
    hardware_id: Mapped[str] = mapped_column(String(256), index=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Client application version reported at activation.
    client_version: Mapped[str | None] = mapped_column(String(50), default=None)
    #: True when this activation was made by issuing an offline code.
    is_offline: Mapped[bool] = mapped_column(default=False)
    #: None while the seat is taken.
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The last online validation of this device that answered ``licensed`` (written in batches
    #: by licenses.validation_stats, so it may lag by a few seconds); None = not since.
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)


# One active activation per (license, device); history rows keep deactivated_at set.
Index(
    "uq_activations_active_license_hardware",
    Activation.license_id,
    Activation.hardware_id,
    unique=True,
    sqlite_where=Activation.deactivated_at.is_(None),
    postgresql_where=Activation.deactivated_at.is_(None),
)
