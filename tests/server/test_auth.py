"""Authorization: ExisOneApi tokens, 401 vs 403, X-Tenant, tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from exisone_server.auth import Permission, parse_token
from exisone_server.kit.time import utc_now
from exisone_server.models import AccessToken

from .helpers import activate_body, assert_error, validate_body
from .seeding import Seed


class TestUnauthorized:
    @pytest.mark.parametrize(
        ("header", "code"),
        [
            pytest.param(None, "missing_token", id="no-header"),
            pytest.param("", "missing_token", id="empty"),
            pytest.param("ExisOneApi", "invalid_token", id="scheme-only"),
            pytest.param("Bearer exo_at_abc_def", "invalid_token", id="bearer"),
            pytest.param("ExisOneApi not-a-token", "invalid_token", id="malformed"),
            pytest.param("ExisOneApi exo_at_abc", "invalid_token", id="no-secret"),
            pytest.param("ExisOneApi exo_at_a-b_secret", "invalid_token", id="bad-public-id"),
            pytest.param("ExisOneApi exo_at_unknownid_secret", "invalid_token", id="unknown"),
        ],
    )
    async def test_bad_tokens(self, seed: Seed, header: str | None, code: str) -> None:
        headers = {} if header is None else {"Authorization": header}

        response = await seed.client.post("/api/license/activate", json={"x": 1}, headers=headers)

        assert_error(response, 401, code)
        assert response.headers["www-authenticate"] == "ExisOneApi"

    async def test_wrong_secret(self, seed: Seed) -> None:
        parsed = parse_token(seed.api.token)
        assert parsed is not None
        forged = f"exo_at_{parsed[0]}_{parsed[1][:-1]}{'A' if parsed[1][-1] != 'A' else 'B'}"

        response = await seed.api_with(forged).get("/api/crypto/keys/public")

        assert_error(response, 401, "invalid_token")

    async def test_expired_token(self, seed: Seed) -> None:
        token = await seed.token(Permission.VERIFY, expires_in=timedelta(days=1))
        public_id = token.split("_")[2]
        async with seed.database.write() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.public_id == public_id)
                .values(expires_at=utc_now() - timedelta(seconds=1))
            )

        response = await seed.api_with(token).get("/api/crypto/keys/public")

        assert_error(response, 401, "token_expired")

    async def test_revoked_token(self, seed: Seed) -> None:
        token = await seed.token(Permission.VERIFY)
        async with seed.database.write() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.public_id == token.split("_")[2])
                .values(revoked=True)
            )

        response = await seed.api_with(token).get("/api/crypto/keys/public")

        assert_error(response, 401, "token_revoked")

    async def test_token_not_yet_expired_works(self, seed: Seed) -> None:
        token = await seed.token(Permission.VERIFY, expires_in=timedelta(days=1))
        response = await seed.api_with(token).get("/api/crypto/keys/public")
        assert response.status_code == 200

    async def test_scheme_word_is_case_insensitive(self, seed: Seed) -> None:
        response = await seed.client.get(
            "/api/crypto/keys/public", headers={"Authorization": f"exisoneapi {seed.api.token}"}
        )
        assert response.status_code == 200


class TestForbidden:
    @pytest.mark.parametrize(
        ("path", "body", "permission"),
        [
            pytest.param(
                "/api/license/validate", {"hardwareId": "h"}, Permission.VERIFY, id="validate"
            ),
            pytest.param(
                "/api/support/ticket",
                {"productName": "p", "email": "e", "subject": "s", "message": "m"},
                Permission.EMAIL,
                id="ticket",
            ),
        ],
    )
    async def test_missing_permission(
        self, seed: Seed, path: str, body: dict[str, str], permission: Permission
    ) -> None:
        others = [p for p in Permission if p not in (permission, Permission.ADMIN)]
        without = seed.api_with(await seed.token(*others))
        with_it = seed.api_with(await seed.token(permission))

        denied = await without.post(path, body)
        allowed = await with_it.post(path, body)

        assert_error(denied, 403, "permission_denied")
        assert allowed.status_code == 200, allowed.text

    async def test_admin_implies_every_permission(self, seed: Seed) -> None:
        admin = seed.api_with(await seed.token(Permission.ADMIN))
        response = await admin.post("/api/license/validate", {"hardwareId": "h"})
        assert response.status_code == 200

    async def test_x_tenant_must_match_the_token(self, seed: Seed) -> None:
        wrong = await seed.api.get(
            "/api/crypto/keys/public", headers={"X-Tenant": str(seed.tenant.id + 1000)}
        )
        right = await seed.api.get(
            "/api/crypto/keys/public", headers={"X-Tenant": str(seed.tenant.id)}
        )

        assert_error(wrong, 403, "tenant_mismatch")
        assert right.status_code == 200


class TestTenantIsolation:
    async def test_another_tenant_never_sees_the_license(self, seed: Seed) -> None:
        product = await seed.product("Shared Name", trial_days=5)
        license = await seed.license(product, is_corporate=True, max_seats=3)
        await seed.api.post("/api/license/activate", activate_body(license, product))
        other = await Seed.create(seed.database, seed.master_key, seed.client)
        await other.product("Shared Name")

        activate = await other.api.post(
            "/api/license/activate", activate_body(license, product, "HW-X")
        )
        validate = await other.api.post("/api/license/validate", validate_body(license))
        usage = await other.api.get(f"/api/license/{license.activation_key}/usage")
        features = await other.api.post(
            "/api/license/features/csv", {"activationKey": license.activation_key}
        )
        deactivate = await other.api.post(
            "/api/license/deactivate",
            {"licenseKey": license.activation_key, "hardwareId": "HW-1"},
        )

        assert_error(activate, 404, "license_not_found")
        assert validate.json()["reason"] == "license_not_found"
        assert_error(usage, 404, "license_not_found")
        assert_error(features, 404, "license_not_found")
        assert_error(deactivate, 404, "license_not_found")
        still = await seed.api.post("/api/license/validate", validate_body(license))
        assert still.json()["status"] == "licensed"

    async def test_public_keys_are_per_tenant(self, seed: Seed) -> None:
        other = await Seed.create(seed.database, seed.master_key, seed.client)

        mine = (await seed.api.get("/api/crypto/keys/public")).text
        theirs = (await other.api.get("/api/crypto/keys/public")).text

        assert mine.startswith("-----BEGIN PUBLIC KEY-----")
        assert mine != theirs
