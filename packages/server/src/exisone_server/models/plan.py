"""Plans (validity period + feature set) and the tenant's feature catalogue."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["Feature", "Plan", "plan_features"]

#: Which features a plan grants.
plan_features = Table(
    "plan_features",
    Model.metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("feature_id", ForeignKey("features.id", ondelete="CASCADE"), primary_key=True),
)


class Feature(Model):
    """A named capability (e.g. ``Pro``, ``Export``) a license can grant."""

    __tablename__ = "features"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")


class Plan(Model):
    """A validity period (0 days = perpetual) and what new licenses of the plan get.

    Features, and for a corporate plan its seat count (None or 0 = unlimited). A plan bound to a
    product (``product_id``) can only license that product; None = any product of the tenant.
    """

    __tablename__ = "plans"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    duration_days: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_corporate: Mapped[bool] = mapped_column(default=False, server_default=false())
    max_seats: Mapped[int | None] = mapped_column(default=None)
    product_id: Mapped[int | None] = mapped_column(
        # use_alter: products.default_plan_id points back here (a cycle for table sorting).
        ForeignKey("products.id", ondelete="SET NULL", use_alter=True),
        default=None,
        index=True,
    )
    #: API products: calls a key of the plan is granted (None = the product's default).
    api_calls: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: API products: the key's calls per minute (None = the product's setting).
    api_rate_limit_per_minute: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: New licenses of the plan are floating: seats are leases that run out unless renewed.
    is_floating: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Bounds and default of a lease's time to live, in seconds (licenses.rules.LeasePolicy).
    lease_ttl_min_seconds: Mapped[int] = mapped_column(default=60, server_default="60")
    lease_ttl_max_seconds: Mapped[int] = mapped_column(default=3600, server_default="3600")
    lease_ttl_default_seconds: Mapped[int] = mapped_column(default=600, server_default="600")
    #: The longest a floating seat may be borrowed for offline use; 0 = no borrowing.
    max_borrow_hours: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Days a license of the plan stays usable after it expires (validate: ``graceUntil``).
    grace_days: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Days a device may go without validating online (answers: ``checkInDays``); None = any.
    check_in_days: Mapped[int | None] = mapped_column(default=None)
    features: Mapped[list[Feature]] = relationship(
        secondary=plan_features, lazy="raise", order_by=Feature.name
    )
