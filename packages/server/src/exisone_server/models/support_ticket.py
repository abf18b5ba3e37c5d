"""A support ticket sent by an end user through the client SDK."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["SupportTicket"]


class SupportTicket(Model):
    __tablename__ = "support_tickets"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: The product named in the ticket, when the tenant has one by that name.
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    product_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    is_closed: Mapped[bool] = mapped_column(default=False)
