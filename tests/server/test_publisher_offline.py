"""POST /api/license/offline-code: the code verifies with our codec and the official client,
takes the device's seat, and follows the activation rules."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from exisone.protocol import load_public_keys, verify_offline_code
from exisone_server.auth import Permission

from .helpers import assert_error
from .publisher_helpers import activate, call, generate, other_tenant, validate_status
from .seeding import Seed

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = REPO_ROOT / ".venvs" / "official" / "bin" / "python"

_OFFICIAL_CHECK = """
import json, sys
from exisone.offline import validate_offline
code, hardware_id, pem = json.loads(sys.stdin.read())
result = validate_offline(code, hardware_id, pem)
print(json.dumps({
    "is_valid": result.is_valid,
    "error": result.error_message,
    "product_name": result.product_name,
    "features": list(result.features or []),
    "expiration": str(result.expiration_date),
    "hardware_mismatch": result.hardware_mismatch,
}))
"""


def official_validate_offline(code: str, hardware_id: str, pem: str) -> dict[str, object]:
    """Run the official client's ``validate_offline`` in its own interpreter."""
    if not OFFICIAL_PYTHON.exists():
        reason = (
            f"official exisone-client venv missing at {OFFICIAL_PYTHON} (run scripts/bootstrap)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    completed = subprocess.run(
        [str(OFFICIAL_PYTHON), "-c", _OFFICIAL_CHECK],
        input=json.dumps([code, hardware_id, pem]),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT / ".venvs",
    )
    return dict(json.loads(completed.stdout))


async def _public_key(seed: Seed) -> str:
    response = await seed.api.get("/api/crypto/keys/public")
    assert response.status_code == 200
    return response.text


async def test_code_verifies_with_both_clients(seed: Seed) -> None:
    await seed.product(version="4.2")
    plan = await seed.plan("Pro", features=("Export", "Pro"), duration_days=0)
    key = (await generate(seed, planId=plan.id))["activationKey"]

    response = await seed.api.post(
        "/api/license/offline-code", {"activationKey": key.lower(), "hardwareId": "Air-Gapped-1"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["activationKey"] == key
    assert body["hardwareId"] == "AIR-GAPPED-1"
    assert body["expirationDate"] == "2049-12-31T23:59:59Z"
    assert body["features"] == ["Export", "Pro"]
    assert body["seatTaken"] is True and body["currentSeats"] == 1
    pem = await _public_key(seed)
    payload = verify_offline_code(body["offlineCode"], load_public_keys(pem)).payload
    assert payload["activationKey"] == key
    assert payload["hardwareId"] == "AIR-GAPPED-1"
    assert payload["productName"] == "MyProduct"
    assert payload["features"] == ["Export", "Pro"]

    official = official_validate_offline(body["offlineCode"], "air-gapped-1", pem)
    assert official["is_valid"] is True, official
    assert official["product_name"] == "MyProduct"
    assert official["features"] == ["Export", "Pro"]
    assert official["expiration"].startswith("2049-12-31 23:59:59")
    other_device = official_validate_offline(body["offlineCode"], "SOMEONE-ELSE", pem)
    assert other_device["is_valid"] is False and other_device["hardware_mismatch"] is True


async def test_code_takes_the_seat_and_shows_on_the_license(seed: Seed) -> None:
    await seed.product()
    key = (await generate(seed))["activationKey"]

    first = await seed.api.post(
        "/api/license/offline-code", {"activationKey": key, "hardwareId": "OFF-1"}
    )
    again = await seed.api.post(
        "/api/license/offline-code", {"activationKey": key, "hardwareId": "off-1"}
    )

    assert again.json()["seatTaken"] is False
    license = (await seed.api.get(f"/api/license/{key}")).json()
    assert license["isOffline"] is True
    assert license["offlineCode"] == again.json()["offlineCode"]
    assert license["hardwareId"] == "OFF-1"
    assert [a["isOffline"] for a in license["activations"]] == [True]
    assert_error(await activate(seed, key, "ONLINE-2"), 409, "license_in_use")
    assert await validate_status(seed, key, "OFF-1") == "licensed"
    validated = await seed.api.post(
        "/api/license/validate",
        {"activationKey": first.json()["offlineCode"], "hardwareId": "OFF-1"},
    )
    assert validated.json()["status"] == "licensed"
    history = (await seed.api.get(f"/api/license/{key}/history")).json()
    assert history[0]["action"] == "offline_code_issued"


async def test_refused_like_an_activation(seed: Seed) -> None:
    await seed.product()
    key = (await generate(seed))["activationKey"]
    await activate(seed, key, "ONLINE-1")
    assert_error(
        await seed.api.post(
            "/api/license/offline-code", {"activationKey": key, "hardwareId": "OFF-2"}
        ),
        409,
        "license_in_use",
    )
    revoked = (await generate(seed))["activationKey"]
    await call(seed, "POST", f"/api/license/{revoked}/revoke")
    assert_error(
        await seed.api.post(
            "/api/license/offline-code", {"activationKey": revoked, "hardwareId": "X"}
        ),
        409,
        "license_revoked",
    )


async def test_errors_isolation_and_permissions(seed: Seed) -> None:
    await seed.product()
    key = (await generate(seed))["activationKey"]
    path = "/api/license/offline-code"

    assert_error(
        await seed.api.post(path, {"activationKey": "NOPE-NOPE-NOPE-NOPE", "hardwareId": "X"}),
        404,
        "license_not_found",
    )
    assert_error(
        await seed.api.post(path, {"activationKey": key, "hardwareId": "  "}),
        400,
        "invalid_request",
    )
    assert_error(await seed.api.post(path, {"activationKey": key}), 400, "invalid_request")
    assert_error(
        await seed.api.post(path, {"activationKey": "", "hardwareId": "X"}), 400, "invalid_request"
    )
    b = await other_tenant(seed)
    assert_error(
        await b.api.post(path, {"activationKey": key, "hardwareId": "X"}), 404, "license_not_found"
    )
    verifier = await seed.token(Permission.VERIFY)
    assert_error(
        await call(seed, "POST", path, {"activationKey": key, "hardwareId": "X"}, token=verifier),
        403,
        "permission_denied",
    )
    generator = await seed.token(Permission.GENERATE)
    ok = await call(seed, "POST", path, {"activationKey": key, "hardwareId": "X"}, token=generator)
    assert ok.status_code == 200
