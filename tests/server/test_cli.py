"""The exisone-server CLI (click's runner, in-process) on both databases."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from exisone.protocol import TrustedKeys, load_public_keys, load_trusted_keys
from exisone_server.auth import Permission
from exisone_server.auth.dependencies import authenticate
from exisone_server.cli import main
from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.errors import ApiError
from exisone_server.models import CryptoKey, License


def _invoke(settings: Settings, *args: str) -> Result:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url, *args],
        env={"EXISONE_MASTER_KEY": settings.master_key or ""},
        catch_exceptions=False,
    )
    return result


def _json(result: Result) -> dict:  # type: ignore[type-arg]
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


@pytest.fixture
def migrated(empty_settings: Settings) -> Settings:
    assert _invoke(empty_settings, "migrate").exit_code == 0
    return empty_settings


def test_tenant_token_and_keys(migrated: Settings) -> None:
    tenant = _json(_invoke(migrated, "tenant", "create", "Acme", "--json"))
    duplicate = _invoke(migrated, "tenant", "create", "Acme")
    issued = _json(
        _invoke(
            migrated,
            "token",
            "create",
            "--tenant",
            "Acme",
            "--permission",
            "verify",
            "--permission",
            "email",
            "--expires-days",
            "30",
            "--name",
            "ci",
            "--json",
        )
    )
    first_pem = _invoke(migrated, "keys", "show", "--tenant", str(tenant["tenantId"])).stdout
    rotated = _json(_invoke(migrated, "keys", "rotate", "--tenant", "Acme", "--json"))

    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    assert issued["token"].startswith("exo_at_")
    assert issued["permissions"] == ["email", "verify"]
    assert issued["expiresAt"] is not None
    assert rotated["keyCount"] == 3  # the RSA key, its successor, the Ed25519 lease key
    assert rotated["publicKey"] != first_pem
    load_public_keys([first_pem, rotated["publicKey"]])

    async def check() -> None:
        database = Database.from_settings(migrated)
        try:
            principal = await authenticate(database, f"ExisOneApi {issued['token']}")
        finally:
            await database.dispose()
        assert principal.tenant_id == tenant["tenantId"]
        assert principal.can(Permission.EMAIL) and not principal.can(Permission.GENERATE)

    asyncio.run(check())


def test_keys_choose_what_signs_lease_tokens(migrated: Settings) -> None:
    _invoke(migrated, "tenant", "create", "Acme")
    every = load_trusted_keys(_invoke(migrated, "keys", "show", "--tenant", "Acme", "--all").stdout)
    assert (len(every.rsa_keys), len(every.lease_keys)) == (1, 2)  # RSA, and Ed25519

    to_rsa = _json(_invoke(migrated, "keys", "lease-tokens", "--tenant", "Acme", "rsa", "--json"))
    made = _json(_invoke(migrated, "keys", "lease-tokens", "--tenant", "Acme", "ed25519", "--json"))
    wrong = _invoke(migrated, "keys", "lease-tokens", "--tenant", "Acme", "dsa")

    assert to_rsa == {"tenantId": to_rsa["tenantId"], "leaseTokens": "rsa"}
    assert made["leaseTokens"] == "ed25519" and made["publicKey"].startswith("-----BEGIN")
    assert load_trusted_keys(made["publicKey"]).rsa_keys == ()  # an Ed25519 key
    assert made["publicKey"] not in every_pems(every)
    assert wrong.exit_code == 2
    # `keys show` is the RSA key still; the retired Ed25519 key stays listed by --all (tokens it
    # signed keep verifying where it is trusted)
    assert load_public_keys(_invoke(migrated, "keys", "show", "--tenant", "Acme").stdout)
    listed = load_trusted_keys(
        _invoke(migrated, "keys", "show", "--tenant", "Acme", "--all").stdout
    )
    assert (len(listed.rsa_keys), len(listed.lease_keys)) == (1, 3)
    assert made["publicKey"] in every_pems(listed)

    async def current_algorithms() -> list[str]:
        database = Database.from_settings(migrated)
        try:
            async with database.read_session() as session:
                return sorted(
                    await session.scalars(
                        select(CryptoKey.algorithm).where(CryptoKey.is_current.is_(True))
                    )
                )
        finally:
            await database.dispose()

    assert asyncio.run(current_algorithms()) == ["ed25519", "rsa"]


def every_pems(keys: TrustedKeys) -> list[str]:
    return [
        key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        for key in keys.lease_keys
    ]


def test_token_for_unknown_tenant_fails(migrated: Settings) -> None:
    result = _invoke(migrated, "token", "create", "--tenant", "nope", "--permission", "verify")
    assert result.exit_code != 0
    assert "No tenant" in result.output


def test_token_needs_a_known_permission(migrated: Settings) -> None:
    result = _invoke(migrated, "token", "create", "--tenant", "x", "--permission", "root")
    assert result.exit_code == 2


def test_demo_is_idempotent_with_fresh_keys_each_run(empty_settings: Settings) -> None:
    first = _json(_invoke(empty_settings, "demo", "--json"))
    second = _json(_invoke(empty_settings, "demo", "--json", "--https"))

    assert first["tenantId"] == second["tenantId"] and first["productId"] == second["productId"]
    assert first["singleDeviceKey"] != second["singleDeviceKey"]
    assert first["accessToken"] != second["accessToken"]
    assert second["serverUrl"].startswith("https://")
    assert first["corporateMaxSeats"] == 5
    assert first["trialDays"] > 0 and first["features"] == ["Export", "Pro"]
    assert first["productVersion"] and first["minimumRequiredVersion"]
    assert first["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert set(first["permissions"]) == {p.value for p in Permission}

    async def check() -> None:
        database = Database.from_settings(empty_settings)
        try:
            async with database.read_session() as session:
                corporate = await session.scalar(
                    select(License).where(License.activation_key == first["corporateKey"])
                )
        finally:
            await database.dispose()
        assert corporate is not None and corporate.is_corporate and corporate.max_seats == 5

    asyncio.run(check())


def test_demo_runs_again_after_its_tenant_chose_rsa_lease_tokens(empty_settings: Settings) -> None:
    first = _json(_invoke(empty_settings, "demo", "--json"))
    _invoke(empty_settings, "keys", "lease-tokens", "--tenant", "demo", "rsa")

    again = _invoke(empty_settings, "demo", "--json")
    human = _invoke(empty_settings, "demo")

    assert load_trusted_keys(first["leasePublicKeyPem"]).rsa_keys == ()  # Ed25519
    assert again.exit_code == 0, again.output
    assert _json(again)["leasePublicKeyPem"] is None
    assert human.exit_code == 0 and human.stdout.count("BEGIN PUBLIC KEY") == 1


def test_demo_human_output_shows_the_whole_token_on_one_line(empty_settings: Settings) -> None:
    """The table folds long values at the terminal's width; the token's own line must not."""
    import sqlalchemy as sa

    from exisone_server.auth.tokens import hash_secret, parse_token
    from exisone_server.cli import TOKEN_LINE

    result = _invoke(empty_settings, "demo")
    assert result.exit_code == 0, result.output
    assert "-----BEGIN PUBLIC KEY-----" in result.output
    line = next(line for line in result.output.splitlines() if line.startswith(TOKEN_LINE))
    parsed = parse_token(line.removeprefix(TOKEN_LINE))
    assert parsed is not None, line
    engine = sa.create_engine(empty_settings.database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT secret_hash FROM access_tokens WHERE public_id = :id"),
                {"id": parsed[0]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == hash_secret(parsed[1])  # the whole secret, not the table's first fold


def test_generated_master_key_file_is_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from exisone_server.config import sqlite_url

    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--data-dir", str(tmp_path), "--database-url", sqlite_url(tmp_path / "x.db"), "demo"],
        env={"EXISONE_MASTER_KEY": ""},
    )

    assert result.exit_code == 0, result.output
    mode = stat.S_IMODE((tmp_path / "master.key").stat().st_mode)
    assert mode == 0o600
    key_text = (tmp_path / "master.key").read_text().strip()
    assert key_text not in result.output


def test_a_bad_master_key_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from exisone_server.config import sqlite_url

    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path), "--database-url", sqlite_url(tmp_path / "x.db"), "demo"],
        env={"EXISONE_MASTER_KEY": "not base64!"},
    )

    assert result.exit_code == 1
    assert "EXISONE_MASTER_KEY is not valid base64" in result.output


def test_token_list_and_revoke(migrated: Settings) -> None:
    _invoke(migrated, "tenant", "create", "Acme")
    issued = _json(
        _invoke(migrated, "token", "create", "--tenant", "Acme", "--permission", "verify", "--json")
    )
    public_id = issued["token"].split("_")[2]

    listed = json.loads(_invoke(migrated, "token", "list", "--tenant", "Acme", "--json").stdout)
    revoked = _invoke(migrated, "token", "revoke", issued["token"])
    unknown = _invoke(migrated, "token", "revoke", "nosuchid")
    after = json.loads(_invoke(migrated, "token", "list", "--tenant", "Acme", "--json").stdout)

    assert [row["publicId"] for row in listed] == [public_id]
    assert listed[0]["revoked"] is False and listed[0]["permissions"] == ["verify"]
    assert issued["token"] not in json.dumps(listed)
    assert revoked.exit_code == 0
    assert unknown.exit_code == 1 and "No token" in unknown.output
    assert after[0]["revoked"] is True

    async def check() -> None:
        database = Database.from_settings(migrated)
        try:
            with pytest.raises(ApiError) as refused:
                await authenticate(database, f"ExisOneApi {issued['token']}")
        finally:
            await database.dispose()
        assert refused.value.code == "token_revoked"

    asyncio.run(check())
