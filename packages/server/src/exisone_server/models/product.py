"""A product of a tenant: trial length, license defaults and version enforcement."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Numeric, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from ..kit.time import utc_now
from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["Product"]


class Product(Model):
    __tablename__ = "products"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: Matched exactly against the ``productName`` that clients send.
    name: Mapped[str] = mapped_column(String(200))
    #: The current version (answered as ``serverVersion``); None = not announced.
    version: Mapped[str | None] = mapped_column(String(50), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    #: Trial length for devices without a key; 0 = no trial.
    trial_days: Mapped[int] = mapped_column(default=0)
    #: Validity of new licenses when neither a plan nor validityDays is given; 0 = perpetual.
    default_license_days: Mapped[int] = mapped_column(default=0)
    #: The plan used by generate when the request names none (takes precedence over the days).
    default_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
    minimum_required_version: Mapped[str | None] = mapped_column(String(50), default=None)
    enforce_version_check: Mapped[bool] = mapped_column(default=False)
    send_purchase_email: Mapped[bool] = mapped_column(default=False)
    send_renewal_reminders: Mapped[bool] = mapped_column(default=False)
    renewal_reminder_days: Mapped[int | None] = mapped_column(default=None)
    #: E-mail "your trial ends soon" to trial licenses (``License.is_trial``) of this product.
    send_trial_ending: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Days before a trial license's end that mail goes out; None = 3.
    trial_ending_days: Mapped[int | None] = mapped_column(default=None)
    #: After a customer's or an application's release of a device, the next release of the
    #: same license waits this long (licenses.rules.release_refusal); None or 0 = no wait.
    deactivation_cooldown_hours: Mapped[int | None] = mapped_column(default=None)
    #: Customers may release their devices in the customer portal.
    customer_may_release: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: ... also a device whose seat backs an offline code (the code keeps working offline).
    customer_may_release_offline: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    #: Most releases of one license by customers and applications in 30 days; None = no limit.
    max_releases_per_30_days: Mapped[int | None] = mapped_column(default=None)
    # API-key licensing (docs/api-keys.md): the keys of an API product carry a quota of calls.
    is_api_product: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Calls a new key gets when its plan grants none.
    default_api_calls: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Calls per minute of a key when its plan sets none; None = no per-minute limit.
    api_rate_limit_per_minute: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: A purchase of quantity N gives one key with N calls (instead of N keys).
    use_quantity_as_api_calls: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utc_now)
