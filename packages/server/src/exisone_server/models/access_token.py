"""An API access token ``exo_at_<publicId>_<secret>``; only a SHA-256 of the secret is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["AccessToken"]


class AccessToken(Model):
    __tablename__ = "access_tokens"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The alphanumeric part between ``exo_at_`` and the secret; unique, used for the lookup.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: Hex SHA-256 of the secret part.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Permission names (``verify``, ``generate``, ``email``, ``admin``), see auth.permissions.
    permissions: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(default=False)
