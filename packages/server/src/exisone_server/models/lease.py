"""A lease: one seat of a floating license held by a device until it runs out or is returned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["Lease"]


class Lease(Model):
    """A seat of a floating license, held until ``expires_at`` unless renewed or ended.

    Client and publisher name a lease by its unguessable lease id (``l_...``), which, like an
    activation key, works only with an access token of the license's tenant.
    """

    __tablename__ = "leases"

    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    #: ``l_`` and 22 random URL-safe characters (licenses.leases.new_lease_id).
    lease_id: Mapped[str] = mapped_column(String(40), unique=True)
    #: Normalised hardware ID (kit.hardware.normalize_hardware_id).
    hardware_id: Mapped[str] = mapped_column(String(256))
    #: The seat is held while ``expires_at`` is later than now and ``ended_at`` is None.
    expires_at: Mapped[datetime]
    #: Seconds each heartbeat extends the lease by.
    ttl_seconds: Mapped[int]
    #: Checked out for offline use (``borrowHours``): not heartbeated.
    borrowed: Mapped[bool] = mapped_column(default=False)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Returned (released, or ended by the publisher or a revocation); None while held.
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Who ended it: ``application``, ``publisher`` or the license state that ended it.
    ended_by: Mapped[str | None] = mapped_column(String(32), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    client_version: Mapped[str | None] = mapped_column(String(50), default=None)


# The seat count of a checkout: a license's leases not ended, by expiry. On SQLite partial,
# so that a count reads the index alone instead of each live lease's row. Not on PostgreSQL:
# with it there, heartbeats renewing a license's leases slowed to a quarter after tens of
# thousands of checkouts of the same license (the full index does not; a count reads the rows
# for their visibility anyway).
Index(
    "ix_leases_license_id_expires_at",
    Lease.license_id,
    Lease.expires_at,
    sqlite_where=Lease.ended_at.is_(None),
)
# A device's lease of a license (checkout's renewal, validate of a floating key), however many
# run-out leases of other devices the license has.
Index("ix_leases_license_id_hardware_id", Lease.license_id, Lease.hardware_id)
