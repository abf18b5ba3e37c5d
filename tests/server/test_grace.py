"""Grace after expiry and check-in periods set on the plan: what validate, activate and
offline codes say (both databases)."""

from __future__ import annotations

from datetime import timedelta

from exisone.protocol import load_public_keys, verify_offline_code
from exisone_server.kit.time import format_expiration, utc_now
from exisone_server.licenses.offline import issue_offline_activation
from exisone_server.licenses.service import find_license

from .helpers import activate_body, validate_body
from .seeding import Seed

VALIDATE = "/api/license/validate"


async def test_an_expired_license_in_grace_is_licensed_with_grace_until(seed: Seed) -> None:
    product = await seed.product()
    plan = await seed.plan(grace_days=5, check_in_days=7)
    license = await seed.license(product, plan=plan)
    assert (
        await seed.api.post("/api/license/activate", activate_body(license, product))
    ).status_code == 200
    expired = utc_now() - timedelta(days=2)
    await seed.update_license(license, expires_at=expired)

    answer = (await seed.api.post(VALIDATE, validate_body(license))).json()

    assert (answer["status"], answer["isValid"], answer["reason"]) == ("licensed", True, "licensed")
    assert answer["expirationDate"] == format_expiration(expired)
    assert answer["graceUntil"] == format_expiration(expired + timedelta(days=5))
    assert answer["checkInDays"] == 7


async def test_after_grace_the_license_is_expired(seed: Seed) -> None:
    product = await seed.product()
    plan = await seed.plan(grace_days=5)
    license = await seed.license(product, plan=plan)
    await seed.api.post("/api/license/activate", activate_body(license, product))
    await seed.update_license(license, expires_at=utc_now() - timedelta(days=5, seconds=1))

    answer = (await seed.api.post(VALIDATE, validate_body(license))).json()

    assert (answer["status"], answer["reason"]) == ("expired", "license_expired")
    assert "graceUntil" not in answer and "checkInDays" not in answer


async def test_a_license_without_grace_expires_at_once(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product))
    await seed.update_license(license, expires_at=utc_now() - timedelta(seconds=1))

    answer = (await seed.api.post(VALIDATE, validate_body(license))).json()

    assert answer["status"] == "expired" and "graceUntil" not in answer


async def test_a_license_not_yet_expired_carries_no_grace_until(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, plan=await seed.plan(grace_days=5, check_in_days=3))
    await seed.api.post("/api/license/activate", activate_body(license, product))

    answer = (await seed.api.post(VALIDATE, validate_body(license))).json()

    assert answer["status"] == "licensed" and "graceUntil" not in answer
    assert answer["checkInDays"] == 3


async def test_a_device_may_activate_during_grace(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, plan=await seed.plan(grace_days=5))
    await seed.update_license(license, expires_at=utc_now() - timedelta(days=1))

    response = await seed.api.post("/api/license/activate", activate_body(license, product))

    assert response.status_code == 200, response.text


async def test_an_offline_code_names_the_check_in_period_last(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, plan=await seed.plan(check_in_days=14))
    async with seed.database.write() as session:
        locked = await find_license(session, seed.tenant.id, license.activation_key, lock=True)
        assert locked is not None
        issued = await issue_offline_activation(session, locked, "dev-1", seed.master_key)
    pem = (await seed.api.get("/api/crypto/keys/public")).text

    payload = verify_offline_code(issued.code, load_public_keys(pem)).payload

    assert list(payload)[-1] == "checkInDays" and payload["checkInDays"] == 14
    answer = (
        await seed.api.post(VALIDATE, validate_body(None, "dev-1", activationKey=issued.code))
    ).json()
    assert answer["status"] == "licensed" and answer["checkInDays"] == 14


async def test_an_offline_code_without_a_check_in_period_has_no_such_key(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, plan=await seed.plan())
    async with seed.database.write() as session:
        locked = await find_license(session, seed.tenant.id, license.activation_key, lock=True)
        assert locked is not None
        issued = await issue_offline_activation(session, locked, "dev-1", seed.master_key)

    assert "checkInDays" not in issued.payload
