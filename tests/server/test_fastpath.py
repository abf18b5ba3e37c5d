"""The raw-driver fast path (exisone_server.fastpath) answers exactly as the SQLAlchemy path."""

from __future__ import annotations

from datetime import timedelta

from exisone_server.auth.dependencies import authenticate
from exisone_server.auth.tokens import parse_token
from exisone_server.db import Database
from exisone_server.fastpath import fast_reader
from exisone_server.kit.time import utc_now
from exisone_server.licenses.schemas import LicenseValidate, LicenseValidation
from exisone_server.licenses.validate import validate
from exisone_server.models import LicenseStatus

from .helpers import activate_body
from .seeding import Seed


async def _both(
    seed: Seed, request: LicenseValidate
) -> tuple[LicenseValidation, LicenseValidation]:
    fast = await validate(seed.database, seed.tenant.id, request, fast=True)
    general = await validate(seed.database, seed.tenant.id, request, fast=False)
    return fast, general


async def test_every_database_has_a_fast_reader(database: Database) -> None:
    assert fast_reader(database) is not None
    assert fast_reader(database) is fast_reader(database)


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

    cases = [
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
