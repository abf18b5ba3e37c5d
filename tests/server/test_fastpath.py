"""The raw-driver fast path (exisone_server.fastpath): its statements agree with each other
(the key alone in a tenant, the key with the token, the engine's own connection)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from exisone_server.auth.dependencies import authenticate
from exisone_server.auth.principal import Principal
from exisone_server.auth.tokens import parse_token, revoke_access_token
from exisone_server.db import Database
from exisone_server.errors import ApiError, Forbidden
from exisone_server.fastpath import TokenRow, fast_reader
from exisone_server.fastpath.reader import (
    SQLITE_MMAP_BYTES,
    EngineReader,
    PostgresReader,
    SqliteReader,
)
from exisone_server.kit.activation_keys import normalize_activation_key
from exisone_server.kit.hardware import normalize_hardware_id
from exisone_server.kit.time import utc_now
from exisone_server.licenses.schemas import LicenseValidate, LicenseValidation
from exisone_server.licenses.service import check_hardware_id
from exisone_server.licenses.validate import online_key_answer, validate, validate_with_token
from exisone_server.models import Lease, LicenseStatus, Product

from .helpers import activate_body
from .publisher_helpers import other_tenant
from .seeding import Seed


async def _both(
    seed: Seed, request: LicenseValidate
) -> tuple[LicenseValidation, LicenseValidation]:
    """validate's answer from the key's rows alone, and from the key read with the token
    (and, on SQLite, through the engine's connection instead of the reader's own)."""
    alone = await validate(seed.database, seed.tenant.id, request)
    principal, with_token = await validate_with_token(
        seed.database, f"ExisOneApi {seed.api.token}", lambda _: None, request
    )
    assert principal.tenant_id == seed.tenant.id
    if seed.database.dialect == "sqlite":
        engine = EngineReader(seed.database)
        rows = await engine.online_key_rows(
            seed.tenant.id,
            normalize_activation_key(request.activation_key or ""),
            normalize_hardware_id(request.hardware_id),
        )
        assert online_key_answer(rows, request, utc_now()) == alone, request
    return alone, with_token


async def test_every_database_has_a_fast_reader(database: Database) -> None:
    assert fast_reader(database) is not None
    assert fast_reader(database) is fast_reader(database)


async def test_the_sqlite_reader_maps_the_database_file(database: Database) -> None:
    """Reads from the mapped file, not pread copies: the 1M-license p99 (docs/benchmarks.md)."""
    reader = fast_reader(database)
    if not isinstance(reader, SqliteReader):
        pytest.skip("PostgreSQL: no file to map")
    setting = reader._connection.execute("PRAGMA mmap_size").fetchone()[0]
    assert setting == SQLITE_MMAP_BYTES


async def test_online_key_answers_agree(seed: Seed) -> None:
    product = await seed.product(
        version="2.0.0", minimum_required_version="1.5.0", enforce_version_check=True
    )
    other = await seed.product(name="Other")
    plan = await seed.plan(features=("Pro", "Export", "Beta"), duration_days=30)
    license = await seed.license(product, plan=plan)
    bare = await seed.license(product)
    for key in (license.activation_key, bare.activation_key):
        body = activate_body(license, product)
        body["activationKey"] = key
        response = await seed.api.post("/api/license/activate", body)
        assert response.status_code == 200, response.text
    expired, suspended, revoked = [await seed.license(product) for _ in range(3)]
    await seed.update_license(expired, expires_at=utc_now() - timedelta(days=1))
    await seed.update_license(suspended, status=LicenseStatus.SUSPENDED)
    await seed.update_license(revoked, status=LicenseStatus.REVOKED)
    hardware = activate_body(license, product)["hardwareId"]
    graced, leased = await _graced_and_leased(seed, product, hardware)

    cases = [
        LicenseValidate(hardware_id=hardware, activation_key=graced),
        LicenseValidate(hardware_id=hardware, activation_key=leased),
        LicenseValidate(hardware_id="another-device", activation_key=leased),
        LicenseValidate(hardware_id=hardware, activation_key=license.activation_key),
        LicenseValidate(hardware_id=hardware.lower(), activation_key=license.activation_key),
        LicenseValidate(hardware_id=hardware, activation_key=f" {bare.activation_key.lower()} "),
        LicenseValidate(hardware_id="another-device", activation_key=license.activation_key),
        LicenseValidate(hardware_id=hardware, activation_key="AAAA-BBBB-CCCC-DDDD"),
        LicenseValidate(
            hardware_id=hardware, activation_key=license.activation_key, product_name="Other"
        ),
        LicenseValidate(
            hardware_id=hardware, activation_key=license.activation_key, version="1.0.0"
        ),
        LicenseValidate(
            hardware_id=hardware, activation_key=license.activation_key, version="1.9.0"
        ),
        LicenseValidate(hardware_id=hardware, activation_key=expired.activation_key),
        LicenseValidate(hardware_id=hardware, activation_key=suspended.activation_key),
        LicenseValidate(hardware_id=hardware, activation_key=revoked.activation_key),
    ]
    statuses = set()
    for request in cases:
        fast, general = await _both(seed, request)
        assert fast == general, request
        statuses.add(fast.reason)
    in_grace, on_lease = [(await _both(seed, request))[0] for request in cases[:2]]
    assert (in_grace.status, in_grace.check_in_days) == ("licensed", 9)
    assert in_grace.grace_until is not None
    assert on_lease.status == "licensed"
    assert statuses >= {
        "licensed",
        "not_activated",
        "license_not_found",
        "product_mismatch",
        "version_outdated",
        "license_expired",
        "license_suspended",
        "license_revoked",
    }
    assert other.name == "Other"


async def test_fast_path_sees_writes_at_once(seed: Seed) -> None:
    product = await seed.product(is_active=True)
    license = await seed.license(product)
    body = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    request = LicenseValidate(hardware_id=body["hardwareId"], activation_key=license.activation_key)
    before = await validate(seed.database, seed.tenant.id, request)
    assert before.status == "licensed"

    await seed.update_license(license, status=LicenseStatus.REVOKED)
    after, general = await _both(seed, request)

    assert after.reason == "license_revoked"
    assert after == general


async def test_token_rows_agree(seed: Seed) -> None:
    token = await seed.token(expires_in=timedelta(days=1))
    parsed = parse_token(token)
    assert parsed is not None
    reader = fast_reader(seed.database)
    assert reader is not None

    row = await reader.token(parsed[0])
    principal = await authenticate(seed.database, f"ExisOneApi {token}")

    assert row is not None
    assert row.tenant_id == seed.tenant.id == principal.tenant_id
    assert row.permissions == ["verify"]
    assert row.expires_at is not None and row.expires_at.tzinfo is not None
    assert row.revoked is False
    assert await reader.token("nosuchtoken") is None


async def _token_row(seed: Seed, token: str) -> TokenRow:
    parsed = parse_token(token)
    reader = fast_reader(seed.database)
    assert parsed is not None and reader is not None
    row = await reader.token(parsed[0])
    assert row is not None
    return row


async def _refusal(seed: Seed, authorization: str | None, request: LicenseValidate) -> str:
    def deny_other_tenants(principal: Principal) -> None:
        if principal.tenant_id != seed.tenant.id:
            raise Forbidden("tenant_mismatch", "another tenant")

    with pytest.raises(ApiError) as general:
        principal = await authenticate(seed.database, authorization)
        deny_other_tenants(principal)
        check_hardware_id(request.hardware_id)
    with pytest.raises(ApiError) as together:
        await validate_with_token(seed.database, authorization, deny_other_tenants, request)
    assert (together.value.status_code, together.value.code) == (
        general.value.status_code,
        general.value.code,
    )
    return f"{together.value.status_code} {together.value.code}"


async def test_refusals_of_the_joint_read_match_the_general_path(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    request = LicenseValidate(hardware_id="DEVICE-1", activation_key=license.activation_key)
    token = seed.api.token
    parsed = parse_token(token)
    assert parsed is not None
    public_id = parsed[0]
    expired = await seed.token(expires_in=timedelta(seconds=-1))
    revoked = await seed.token()
    revoked_row = await _token_row(seed, revoked)
    async with seed.database.write() as session:
        await revoke_access_token(session, seed.tenant.id, revoked_row.id)
    other = await other_tenant(seed)

    outcomes = [
        await _refusal(seed, None, request),
        await _refusal(seed, "Bearer x", request),
        await _refusal(seed, f"ExisOneApi exo_at_{public_id}_wrongsecret", request),
        await _refusal(seed, "ExisOneApi exo_at_nosuchid_secret", request),
        await _refusal(seed, f"ExisOneApi {expired}", request),
        await _refusal(seed, f"ExisOneApi {revoked}", request),
        await _refusal(seed, f"ExisOneApi {other.api.token}", request),  # 403 before a read
        await _refusal(
            seed, f"ExisOneApi {token}", LicenseValidate(hardware_id=" ", activation_key="K")
        ),
    ]

    assert outcomes[:2] == ["401 missing_token", "401 invalid_token"]
    assert outcomes[2:4] == ["401 invalid_token"] * 2
    assert outcomes[4:6] == ["401 token_expired", "401 token_revoked"]
    assert outcomes[6:] == ["403 tenant_mismatch", "400 invalid_request"]


async def test_another_tenants_token_never_reads_this_tenants_key(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    body = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    request = LicenseValidate(hardware_id=body["hardwareId"], activation_key=license.activation_key)
    other = await other_tenant(seed)

    principal, answer = await validate_with_token(
        seed.database, f"ExisOneApi {other.api.token}", lambda _: None, request
    )

    assert principal.tenant_id == other.tenant.id
    assert (answer.is_valid, answer.reason) == (False, "license_not_found")


def _postgres_reader(database: Database) -> PostgresReader:
    reader = fast_reader(database)
    if not isinstance(reader, PostgresReader):
        pytest.skip("SQLite: no server connections")
    return reader


async def test_a_postgres_reader_replaces_connections_the_server_closed(
    database: Database,
) -> None:
    """After a PostgreSQL restart (here: its backends terminated) reads go on, no error."""
    import psycopg

    from exisone_server.fastpath.reader import POSTGRES_CONNECTIONS

    reader = _postgres_reader(database)
    busy = [reader._fetch("SELECT pg_sleep(0.05)", ()) for _ in range(POSTGRES_CONNECTIONS)]
    await asyncio.gather(*busy)  # every connection open, all idle now
    old = {connection.info.backend_pid for connection in reader._open}
    assert len(old) == POSTGRES_CONNECTIONS
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        for pid in old:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    assert await reader.token("no-such-token") is None
    assert not old & {connection.info.backend_pid for connection in reader._open}


async def test_a_read_after_a_cancelled_one_gets_its_own_answer(database: Database) -> None:
    """A request cancelled mid-read (client gone) leaves no stray result on the connection:
    psycopg cancels the query server-side, or the reader drops the connection."""
    reader = _postgres_reader(database)
    slow = asyncio.create_task(reader._fetch("SELECT pg_sleep(5), 'slow'", ()))
    await asyncio.sleep(0.3)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    started = asyncio.get_running_loop().time()
    assert await reader._fetch("SELECT 'next'", ()) == [("next",)]
    assert asyncio.get_running_loop().time() - started < 2  # did not wait for the sleep
    assert all(c.info.transaction_status.name == "IDLE" for c in reader._open)


async def test_a_postgres_reader_opens_at_most_its_maximum_of_connections(
    database: Database,
) -> None:
    from exisone_server.fastpath.reader import POSTGRES_CONNECTIONS

    reader = _postgres_reader(database)
    reads = [reader._fetch("SELECT pg_sleep(0.05)", ()) for _ in range(3 * POSTGRES_CONNECTIONS)]
    assert len(await asyncio.gather(*reads)) == 3 * POSTGRES_CONNECTIONS
    assert len(reader._open) == POSTGRES_CONNECTIONS


async def _graced_and_leased(seed: Seed, product: Product, hardware: str) -> tuple[str, str]:
    """Keys of a license expired but in its plan's grace (check-in 9 days) and of a floating
    license that ``hardware`` holds a lease of (another device holds a run-out one)."""
    plan = await seed.plan(f"grace-{uuid.uuid4().hex[:6]}", grace_days=3, check_in_days=9)
    graced = await seed.license(product, plan=plan)
    assert (
        await seed.api.post("/api/license/activate", activate_body(graced, product, hardware))
    ).status_code == 200
    await seed.update_license(graced, expires_at=utc_now() - timedelta(days=1))
    leased = await seed.license(product, is_floating=True, is_corporate=True, max_seats=3)
    for device in (hardware, "another-device"):
        body = {
            "activationKey": leased.activation_key,
            "hardwareId": device,
            "productName": product.name,
        }
        assert (await seed.api.post("/api/license/lease", body)).status_code == 200
    async with seed.database.write() as session:
        await session.execute(
            update(Lease)
            .where(Lease.hardware_id == "ANOTHER-DEVICE", Lease.license_id == leased.id)
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )
    return graced.activation_key, leased.activation_key


async def _seeded_keys(seed: Seed) -> tuple[str, list[tuple[str, str]]]:
    """The token's public id and (activation key, hardware ID) pairs covering every row shape:
    bound with features, unbound, unknown key, another product's key without features."""
    product = await seed.product()
    plan = await seed.plan(features=("Pro", "Export", "Beta"))
    featured, bare = await seed.license(product, plan=plan), await seed.license(product)
    body = activate_body(featured, product)
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    hardware = body["hardwareId"]
    graced, leased = await _graced_and_leased(seed, product, hardware)
    pairs = [
        (graced, hardware),
        (leased, hardware),
        (leased, "ANOTHER-DEVICE"),
        (featured.activation_key, hardware),
        (featured.activation_key, "another-device"),
        (bare.activation_key, hardware),
        ("AAAA-BBBB-CCCC-DDDD", hardware),
    ]
    parsed = parse_token(seed.api.token)
    assert parsed is not None
    return parsed[0], pairs


async def _occupy(reader: PostgresReader, seconds: float) -> list[asyncio.Task[object]]:
    """Hold every connection of the reader for ``seconds``: later reads must wait."""
    from exisone_server.fastpath.reader import POSTGRES_CONNECTIONS

    busy = [
        asyncio.create_task(reader._fetch("SELECT pg_sleep(%s)", (seconds,)))
        for _ in range(POSTGRES_CONNECTIONS)
    ]
    while not reader._slots.locked():
        await asyncio.sleep(0.01)
    return busy  # type: ignore[return-value]


async def _waiting_validations(
    reader: PostgresReader, public_id: str, pairs: list[tuple[str, str]]
) -> tuple[list[asyncio.Task[object]], list[asyncio.Task[object]]]:
    """Every connection held for 0.3 s (the busy reads), then one validation task per pair,
    which must wait for a batch."""
    busy = await _occupy(reader, 0.3)
    validations: list[asyncio.Task[object]] = [
        asyncio.create_task(reader.token_and_online_key(public_id, key, device))
        for key, device in pairs
    ]
    return busy, validations


async def test_validations_that_wait_share_one_statement_and_get_their_own_rows(
    seed: Seed,
) -> None:
    reader = _postgres_reader(seed.database)
    public_id, pairs = await _seeded_keys(seed)
    requests = [(public_id, key, device) for key, device in pairs] * 5
    requests += [("no-such-token", pairs[0][0], pairs[0][1]), (public_id, "", "")]
    alone = [await reader.token_and_online_key(*request) for request in requests]
    assert reader.batches == 0  # a free connection each time: no batch

    busy = await _occupy(reader, 0.3)
    together = await asyncio.gather(*(reader.token_and_online_key(*r) for r in requests))
    await asyncio.gather(*busy)

    assert together == alone
    assert reader.batches >= 1 and reader.batched_validations == len(requests)
    assert (
        alone[-2] == (None, [])
        and alone[3][1]
        and {row.feature for row in alone[3][1]}
        == {
            "Beta",
            "Export",
            "Pro",
        }
    )


async def test_validations_join_the_batch_while_any_read_is_in_flight(seed: Seed) -> None:
    """One read in flight, connections to spare: the validations still share one statement
    (each reading alone would cost the worker and PostgreSQL a statement per validation)."""
    reader = _postgres_reader(seed.database)
    public_id, pairs = await _seeded_keys(seed)
    requests = [(public_id, key, device) for key, device in pairs]
    alone = [await reader.token_and_online_key(*request) for request in requests]
    assert reader.batches == 0  # nothing in flight each time: each read alone

    slow = asyncio.create_task(reader._fetch("SELECT pg_sleep(0.3)", ()))
    await asyncio.sleep(0.05)  # the slow read holds one connection of the reader's maximum
    together = await asyncio.gather(*(reader.token_and_online_key(*r) for r in requests))
    await slow

    assert together == alone
    assert reader.batches == 1 and reader.batched_validations == len(requests)


async def test_a_validation_postgresql_would_refuse_fails_alone(seed: Seed) -> None:
    """A NUL in one request's text must not fail the validations batched with it."""
    import psycopg

    reader = _postgres_reader(seed.database)
    public_id, pairs = await _seeded_keys(seed)
    busy = await _occupy(reader, 0.3)
    reads = [reader.token_and_online_key(public_id, key, device) for key, device in pairs]
    reads.insert(1, reader.token_and_online_key(public_id, "BAD\x00KEY", "device"))
    results = await asyncio.gather(*reads, return_exceptions=True)
    await asyncio.gather(*busy)

    assert isinstance(results[1], psycopg.DataError)
    good = [r for i, r in enumerate(results) if i != 1]
    assert all(isinstance(r, tuple) and r[0] is not None for r in good)
    assert reader.batched_validations == len(pairs)


async def test_a_cancelled_waiting_validation_leaves_the_batch_whole(seed: Seed) -> None:
    """A client gone while its validation waits in a batch: the others get their rows."""
    reader = _postgres_reader(seed.database)
    public_id, pairs = await _seeded_keys(seed)
    busy, tasks = await _waiting_validations(reader, public_id, pairs)
    await asyncio.sleep(0.05)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*busy)

    assert isinstance(results[0], asyncio.CancelledError)
    expected = [await reader.token_and_online_key(public_id, k, d) for k, d in pairs[1:]]
    assert results[1:] == expected


async def test_closing_the_reader_fails_the_validations_still_waiting(seed: Seed) -> None:
    """A worker shutting down: every waiting request gets an error, none waits forever, and
    the reader's connections close."""
    from exisone_server.fastpath.reader import ReaderClosed

    reader = _postgres_reader(seed.database)
    public_id, pairs = await _seeded_keys(seed)
    busy, waiting = await _waiting_validations(reader, public_id, pairs)
    await asyncio.sleep(0)  # queued, the batcher not yet run
    await reader.close()
    results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)
    await asyncio.gather(*busy, return_exceptions=True)

    assert all(isinstance(result, ReaderClosed) for result in results)
    assert not reader._open and reader._batcher is None


async def test_a_connection_made_while_the_reader_closes_is_closed_too(database: Database) -> None:
    """Shutdown while a read is still connecting: the read fails, no connection stays open."""
    from exisone_server.fastpath.reader import ReaderClosed

    reader = _postgres_reader(database)
    connecting = asyncio.create_task(reader._fetch("SELECT 1", ()))
    await asyncio.sleep(0)  # the read holds a slot and waits for its new connection
    assert reader._reading == 1 and not reader._open
    await reader.close()

    with pytest.raises(ReaderClosed):
        await connecting
    assert not reader._open
    with pytest.raises(ReaderClosed):
        await reader.token_and_online_key("id", "KEY", "device")  # and none opens later
