"""A tenant: one publisher; every other row belongs to exactly one tenant."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import random_id_column

__all__ = ["Tenant"]


class Tenant(Model):
    __tablename__ = "tenants"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()

    name: Mapped[str] = mapped_column(String(200), unique=True)
