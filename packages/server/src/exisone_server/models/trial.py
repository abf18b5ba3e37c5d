"""A device's trial of a product: created on its first keyless validation, never reset."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["Trial"]


class Trial(Model):
    __tablename__ = "trials"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (UniqueConstraint("product_id", "hardware_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    hardware_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
    #: What the device reported on its first visit (analytics: version and country).
    client_version: Mapped[str | None] = mapped_column(String(50), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
