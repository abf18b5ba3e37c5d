"""Ids that tenants see are random 32-bit integers, not global counters: two creations in a row
are not neighbours, another tenant's ids tell nothing, a drawn id that is taken is drawn again
(both databases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from exisone_server.auth import Permission
from exisone_server.licenses.history import record_history
from exisone_server.models import (
    AccessToken,
    AuditEvent,
    HistoryAction,
    LicenseHistory,
    Product,
    Tenant,
    WebhookEndpoint,
    ids,
)
from exisone_server.models.ids import MAX_ID, random_id_column

from .seeding import Seed

#: Every id a tenant sees, by the path that creates it through the API.
MADE_BY_THE_API = ("product", "plan", "license", "webhook", "ticket")


def _spread(values: list[int]) -> bool:
    """Not a run of counters: no two neighbours differ by less than 1000."""
    ordered = sorted(values)
    return all(b - a > 1000 for a, b in zip(ordered, ordered[1:], strict=False))


async def test_ids_on_the_wire_are_random_positive_int32(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1")
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    made: dict[str, list[int]] = {name: [] for name in MADE_BY_THE_API}
    for tenant in (seed, other, seed):
        n = len(made["product"])
        product = await tenant.api.post("/api/product", {"name": f"IdApp{n}"})
        assert product.status_code in (200, 201), product.text
        made["product"].append(product.json()["id"])
        plan = await tenant.api.post(
            "/api/plan", {"name": f"IdPlan{n}", "productId": product.json()["id"]}
        )
        assert plan.status_code in (200, 201), plan.text
        made["plan"].append(plan.json()["id"])
        key = await tenant.api.post(
            "/api/activationkey/generate", {"productName": f"IdApp{n}", "email": "a@example.com"}
        )
        listed = await tenant.api.get("/api/license", params={"q": key.json()["activationKey"]})
        made["license"].append(listed.json()[0]["id"])
        hook = await tenant.api.post("/api/webhook", {"url": f"http://127.0.0.1:9/{n}"})
        made["webhook"].append(hook.json()["id"])
        ticket_token = tenant.api_with(await tenant.token(Permission.EMAIL))
        ticket = await ticket_token.post(
            "/api/support/ticket",
            {"productName": "x", "email": "u@example.com", "subject": "s", "message": "m"},
        )
        made["ticket"].append(ticket.json()["ticketId"])
    for name, values in made.items():
        assert all(1 <= value <= MAX_ID for value in values), (name, values)
        assert _spread(values), (name, values)  # seed, other tenant, seed: no counter between
    async with seed.database.write() as session:
        for model in (AccessToken, AuditEvent, Tenant):
            column = model.id if model is Tenant else model.tenant_id
            wanted = [seed.tenant.id, other.tenant.id] if model is Tenant else [seed.tenant.id]
            values = list(await session.scalars(select(model.id).where(column.in_(wanted))))
            assert len(values) >= 2 and _spread(values), (model.__name__, values)
        await session.execute(
            WebhookEndpoint.__table__.delete().where(
                WebhookEndpoint.tenant_id.in_([seed.tenant.id, other.tenant.id])
            )
        )


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Make :func:`ids.draw_id` return the listed ids first (then random ones)."""
    queue: list[int] = []
    real = ids.draw_id
    monkeypatch.setattr(ids, "draw_id", lambda: queue.pop(0) if queue else real())
    yield queue


async def test_a_taken_id_is_drawn_again(seed: Seed, drawn: list[int]) -> None:
    first = await seed.product("Collide1")
    free = 77_777_777 + seed.tenant.id % 1_000_000_000  # fits an int32 (the tenant's id: any)
    drawn.extend([first.id, first.id, free])
    second = await seed.product("Collide2")
    assert second.id == free  # two taken draws skipped
    assert not drawn
    async with seed.database.read_session() as session:
        names = dict(
            (
                await session.execute(
                    select(Product.id, Product.name).where(Product.tenant_id == seed.tenant.id)
                )
            ).all()
        )
    assert names == {first.id: "Collide1", second.id: "Collide2"}


async def test_the_api_draws_again_too(seed: Seed, drawn: list[int]) -> None:
    """Through a real request: the product created second was given the first one's id first."""
    first = (await seed.api.post("/api/product", {"name": "Api1"})).json()["id"]
    drawn.append(first)
    second = await seed.api.post("/api/product", {"name": "Api2"})
    assert second.status_code in (200, 201), second.text
    assert second.json()["id"] != first and not drawn


def test_the_id_column_is_an_application_drawn_integer() -> None:
    column = Product.__table__.c.id
    assert column.primary_key and column.autoincrement is False
    assert column.default is not None
    assert random_id_column  # the one definition every tenant-visible table uses


async def test_a_history_row_draws_again_without_a_look_up(seed: Seed, drawn: list[int]) -> None:
    """History rows, inserted on the hot paths with ``ON CONFLICT (id) DO NOTHING`` instead of
    a look-up first, still skip a taken id; each one's ``seq`` is one more than the last."""
    license = await seed.license(await seed.product("HistoryIds"))
    async with seed.database.write() as session:
        await record_history(session, license.id, HistoryAction.ACTIVATED, hardware_id="A")
    async with seed.database.read_session() as session:
        taken = await session.scalar(
            select(LicenseHistory.id).where(
                LicenseHistory.license_id == license.id, LicenseHistory.hardware_id == "A"
            )
        )
    assert taken is not None
    free = 55_555_555 + seed.tenant.id % 1_000_000_000
    drawn.extend([taken, taken, free])
    async with seed.database.write() as session:
        await record_history(session, license.id, HistoryAction.ACTIVATED, hardware_id="B")
    assert not drawn
    async with seed.database.read_session() as session:
        rows = (
            await session.execute(
                select(LicenseHistory.id, LicenseHistory.hardware_id, LicenseHistory.seq)
                .where(
                    LicenseHistory.license_id == license.id,
                    LicenseHistory.hardware_id.is_not(None),
                )
                .order_by(LicenseHistory.seq)
            )
        ).all()
    assert [(row.id, row.hardware_id) for row in rows] == [(taken, "A"), (free, "B")]
    assert rows[1].seq > rows[0].seq
