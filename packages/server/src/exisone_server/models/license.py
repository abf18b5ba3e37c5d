"""A license (activation key) for one product; corporate licenses have several seats."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..kit.time import utc_now
from .base import Model, text_enum
from .ids import insertion_seq_column, random_id_column
from .plan import Feature

__all__ = ["License", "LicenseStatus", "license_features"]

#: The features a license grants (copied from its plan when it is created, editable later).
license_features = Table(
    "license_features",
    Model.metadata,
    Column("license_id", ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True),
    Column("feature_id", ForeignKey("features.id", ondelete="CASCADE"), primary_key=True),
)


class LicenseStatus(enum.StrEnum):
    """Administrative state; expiry is separate (``expires_at``)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  # temporarily blocked, can be resumed
    REVOKED = "revoked"  # permanently blocked


class License(Model):
    __tablename__ = "licenses"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
    #: Normalised (upper case) ``XXXX-XXXX-XXXX-XXXX``; unique across tenants.
    activation_key: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[LicenseStatus] = mapped_column(
        text_enum(LicenseStatus),
        default=LicenseStatus.ACTIVE,
    )
    #: None = perpetual (answered as 2049-12-31T23:59:59Z).
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    #: First activation on any device.
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    is_corporate: Mapped[bool] = mapped_column(default=False)
    #: Seats of a corporate license; None = unlimited. Single-device licenses have one device.
    max_seats: Mapped[int | None] = mapped_column(default=None)
    corporate_name: Mapped[str | None] = mapped_column(String(200), default=None)
    is_offline: Mapped[bool] = mapped_column(default=False)
    #: Floating: devices hold seats as leases (licenses.leases), at most the seat limit at once.
    is_floating: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: A trial key (e.g. a subscription's trial period): its end gets the "trial ending" e-mail
    #: instead of the renewal reminder, when its product sends it.
    is_trial: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: The last offline activation code issued for this license.
    offline_code: Mapped[str | None] = mapped_column(Text, default=None)
    #: Free-form version label the publisher attached to the license.
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utc_now)
    features: Mapped[list[Feature]] = relationship(
        secondary=license_features, lazy="raise", order_by=Feature.name
    )
