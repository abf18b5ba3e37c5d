"""Write and read the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import AuditEvent, License
from .context import current_actor

__all__ = ["list_audit_events", "record_audit", "record_license_audit"]

#: Detail keys that are never stored, whatever a caller passes.
_SECRET_WORDS = ("secret", "password", "private")
_SECRET_KEYS = frozenset({"token", "masterkey", "accesstoken"})


def _clean(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in details.items()
        if key.lower() not in _SECRET_KEYS
        and not any(word in key.lower() for word in _SECRET_WORDS)
    }


async def record_audit(
    session: AsyncSession,
    tenant_id: int,
    action: str,
    *,
    target_type: str | None = None,
    target: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the caller's transaction (so it commits or rolls back with the action)."""
    actor = current_actor()
    event = AuditEvent(
        tenant_id=tenant_id,
        actor_type=actor.kind,
        actor=actor.name[:320],
        action=action,
        target_type=target_type,
        target=str(target)[:200] if target is not None else None,
        ip_address=actor.ip_address,
        details=_clean(details or {}),
    )
    session.add(event)
    await session.flush()
    return event


async def record_license_audit(
    session: AsyncSession, license: License, action: str, **details: object
) -> AuditEvent:
    """:func:`record_audit` of an action on a license (its key is the target); details that
    are None are left out."""
    return await record_audit(
        session,
        license.tenant_id,
        action,
        target_type="license",
        target=license.activation_key,
        details={key: value for key, value in details.items() if value is not None},
    )


async def list_audit_events(
    session: AsyncSession,
    tenant_id: int,
    *,
    page: int = 1,
    page_size: int = 50,
    action: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """A page of the tenant's events, newest first, and the total count."""
    condition = [AuditEvent.tenant_id == tenant_id]
    if action:
        condition.append(AuditEvent.action == action)
    total = await session.scalar(select(func.count()).select_from(AuditEvent).where(*condition))
    rows = await session.scalars(
        select(AuditEvent)
        .where(*condition)
        .order_by(AuditEvent.seq.desc(), AuditEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total or 0)
