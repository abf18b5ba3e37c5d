"""The service functions the dashboard added (tickets, tokens, trials, home numbers), per tenant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from exisone_server.auth.tokens import list_access_tokens, revoke_access_token
from exisone_server.errors import ApiError
from exisone_server.kit.time import utc_now
from exisone_server.licenses.history import record_history
from exisone_server.models import HistoryAction, License, LicenseStatus, SupportTicket, Trial
from exisone_server.publisher.activity import home_numbers, list_trials, set_trial_expiration
from exisone_server.support.service import (
    count_open_tickets,
    get_ticket,
    list_tickets,
    set_ticket_closed,
)

from ..server.seeding import Seed


async def test_tickets_are_per_tenant_and_can_be_resolved(seed: Seed) -> None:
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    async with seed.database.write() as session:
        for tenant, subject in ((seed.tenant.id, "mine"), (other.tenant.id, "theirs")):
            session.add(
                SupportTicket(
                    tenant_id=tenant, product_name="P", email="a@b.c", subject=subject, message="m"
                )
            )
    async with seed.database.write() as session:
        mine = await list_tickets(session, seed.tenant.id)
        assert [t.subject for t in mine] == ["mine"]
        theirs = (await list_tickets(session, other.tenant.id))[0]
        with pytest.raises(ApiError) as refused:
            await get_ticket(session, seed.tenant.id, theirs.id)
        assert refused.value.code == "ticket_not_found"
        await set_ticket_closed(session, seed.tenant.id, mine[0].id, True)
    async with seed.database.read_session() as session:
        assert await count_open_tickets(session, seed.tenant.id) == 0
        assert await list_tickets(session, seed.tenant.id, closed=False) == []
        assert len(await list_tickets(session, seed.tenant.id, closed=True)) == 1
        assert await count_open_tickets(session, other.tenant.id) == 1


async def test_tokens_listing_and_revoking_stay_in_the_tenant(seed: Seed) -> None:
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    async with seed.database.write() as session:
        theirs = await list_access_tokens(session, other.tenant.id)
        with pytest.raises(ApiError) as refused:
            await revoke_access_token(session, seed.tenant.id, theirs[0].id)
        assert refused.value.code == "token_not_found"
        mine = await list_access_tokens(session, seed.tenant.id)
        assert len(mine) == 1
        revoked = await revoke_access_token(session, seed.tenant.id, mine[0].id)
        assert revoked.revoked
    assert (await seed.api.get("/api/crypto/keys/public")).status_code == 401


async def test_trial_expiration_is_editable_only_for_own_products(seed: Seed) -> None:
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    mine = await seed.product("Mine")
    theirs = await other.product("Theirs")
    async with seed.database.write() as session:
        own = Trial(product_id=mine.id, hardware_id="A", expires_at=utc_now())
        foreign = Trial(product_id=theirs.id, hardware_id="B", expires_at=utc_now())
        session.add_all([own, foreign])
    async with seed.database.write() as session:
        changed = await set_trial_expiration(session, seed.tenant.id, own.id, "2030-01-02")
        assert changed.expires_at.isoformat() == "2030-01-02T00:00:00+00:00"
        with pytest.raises(ApiError) as refused:
            await set_trial_expiration(session, seed.tenant.id, foreign.id, "2030-01-02")
        assert refused.value.code == "trial_not_found"
        with pytest.raises(ApiError):
            await set_trial_expiration(session, seed.tenant.id, own.id, "3500-01-01")
        rows = await list_trials(session, seed.tenant.id)
    assert [(row[0].hardware_id, row[1]) for row in rows] == [("A", "Mine")]


async def test_home_numbers(seed: Seed) -> None:
    product = await seed.product("Numbers")
    soon = await seed.license(product, validity_days=10)
    await seed.license(product, validity_days=100)
    later = await seed.license(product)
    revoked = await seed.license(product)
    now = utc_now()
    async with seed.database.write() as session:
        await session.execute(
            update(License).where(License.id == revoked.id).values(status=LicenseStatus.REVOKED)
        )
        await record_history(session, soon.id, HistoryAction.ACTIVATED, hardware_id="X")
        await record_history(
            session,
            later.id,
            HistoryAction.ACTIVATED,
            hardware_id="Y",
            at=now - timedelta(days=3),
        )
        await record_history(
            session, later.id, HistoryAction.ACTIVATED, at=now - timedelta(days=45)
        )
        session.add(Trial(product_id=product.id, hardware_id="T", expires_at=now))
    async with seed.database.read_session() as session:
        numbers = await home_numbers(session, seed.tenant.id, now)
    assert numbers.active_licenses == 3
    assert numbers.expiring_soon == 1
    assert len(numbers.days) == 30 and numbers.days[-1].day == now.date()
    by_day = {d.day: d for d in numbers.days}
    assert by_day[now.date()].activations == 1 and by_day[now.date()].trials == 1
    assert by_day[(now - timedelta(days=3)).date()].activations == 1
    assert sum(d.activations for d in numbers.days) == 2  # the 45-day-old one is outside
