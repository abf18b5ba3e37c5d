"""Secrets: token secrets, private keys and master keys never appear in logs, error messages or
API answers (a full run's logs are captured and searched); private keys are encrypted at rest;
the master key can be rotated (``keys rotate-master``)."""

from __future__ import annotations

import base64
import json
import subprocess

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.crypto.service import PrivateKey, load_private_key
from exisone_server.db import Database
from exisone_server.migrate import upgrade
from exisone_server.models import AccessToken, CryptoKey
from tests.support import cli, environment

from .security_servers import running

pytestmark = pytest.mark.slow


def _run(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(settings, *args),
        env=environment(settings, env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


async def _private_keys(settings: Settings, master_key: MasterKey) -> list[CryptoKey]:
    database = Database.from_settings(settings)
    try:
        async with database.read_session() as session:
            return list(await session.scalars(select(CryptoKey).order_by(CryptoKey.id)))
    finally:
        await database.dispose()


def _der(private: PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _secret_forms(key: CryptoKey, master_key: MasterKey) -> list[str]:
    """Texts that would betray the private key (RSA or Ed25519): PEM body lines, DER in hex
    and base64 (past the DER header, which every key of a kind shares)."""
    private = load_private_key(key, master_key)
    der = _der(private)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    lines = [line for line in pem.splitlines() if line and "PRIVATE KEY" not in line]
    return [*lines[1:4], der.hex()[-64:], base64.b64encode(der).decode()[-40:]]


async def test_a_full_run_never_shows_a_secret(empty_settings: Settings) -> None:
    upgrade(empty_settings)
    master_key = MasterKey.from_base64(empty_settings.master_key or "")
    logs: list[str] = []
    answers: list[str] = []

    tenant = json.loads(_run(empty_settings, "tenant", "create", "Acme", "--json").stdout)
    created = _run(
        empty_settings, "token", "create", "--tenant", "Acme", "--permission", "admin", "--json"
    )
    logs.append(created.stderr)
    token = json.loads(created.stdout)["token"]
    verify = json.loads(
        _run(
            empty_settings,
            "token",
            "create",
            "--tenant",
            "Acme",
            "--permission",
            "verify",
            "--json",
        ).stdout
    )["token"]
    rotated = _run(empty_settings, "keys", "rotate", "--tenant", str(tenant["tenantId"]), "--json")
    logs.append(rotated.stderr)
    answers.append(rotated.stdout)
    headers = {"Authorization": f"ExisOneApi {token}"}

    with running(empty_settings, 1, "--log-level", "debug") as (server,):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            calls = [
                client.post("/api/product", json={"name": "App", "trialDays": 7}, headers=headers),
                client.post(
                    "/api/activationkey/generate",
                    json={"productName": "App", "email": "a@example.com"},
                    headers=headers,
                ),
            ]
            for call in calls:
                answers.append((await call).text)
            key = json.loads(answers[-1])["activationKey"]
            for method, path, body, auth in [
                (
                    "POST",
                    "/api/license/activate",
                    {
                        "activationKey": key,
                        "hardwareId": "H1",
                        "productName": "App",
                        "email": "a@example.com",
                    },
                    token,
                ),
                (
                    "POST",
                    "/api/license/validate",
                    {"activationKey": key, "hardwareId": "H1"},
                    verify,
                ),
                (
                    "POST",
                    "/api/license/offline-code",
                    {"activationKey": key, "hardwareId": "H2"},
                    token,
                ),
                ("GET", "/api/crypto/keys", None, token),
                ("GET", "/api/crypto/keys/public", None, token),
                ("GET", "/api/audit", None, token),
                ("GET", f"/api/license/{key}", None, token),
                # errors: wrong secret, malformed, permission, not found, bad JSON, too large
                ("GET", "/api/product", None, token[:-4] + "AAAA"),
                ("GET", "/api/product", None, token + "x"),
                ("GET", "/api/product", None, "exo_at_" + token),
                ("GET", "/api/audit", None, verify),
                ("GET", "/api/license/NOPE-NOPE-NOPE-NOPE", None, token),
            ]:
                response = await client.request(
                    method, path, json=body, headers={"Authorization": f"ExisOneApi {auth}"}
                )
                assert response.status_code < 500, response.text
                answers.append(response.text)
            for content in (b"{not json", b"x" * 2_000_000):
                try:
                    response = await client.post(
                        "/api/license/validate",
                        content=content,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                except httpx.TransportError:
                    # The 413 goes out on the Content-Length alone; the server may close the
                    # connection before the client wrote the rest (nothing answered: no leak).
                    assert len(content) > 1_000_000
                    continue
                answers.append(response.text)
    logs.append(server.output())  # once stopped: the access log writes its lines in batches

    new_key = MasterKey.generate_base64()
    key_file = empty_settings.data_dir / "new-master.key"
    key_file.write_text(new_key)
    rotation = _run(
        empty_settings, "keys", "rotate-master", "--new-key-file", str(key_file), "--json"
    )
    logs.append(rotation.stderr)
    answers.append(rotation.stdout)

    keys = await _private_keys(empty_settings, master_key)
    new_master = MasterKey.from_base64(new_key)
    secrets = [
        token.split("_", 3)[3],
        verify.split("_", 3)[3],
        empty_settings.master_key or "",
        new_key,
    ]
    for stored in keys:
        secrets += _secret_forms(stored, new_master)
    everything = "\n".join(logs + answers)
    assert "PRIVATE KEY" not in everything
    for secret in secrets:
        assert secret and secret not in everything, secret[:12]
    assert "GET /api/product" in logs[-2]  # the access log was captured (not an empty search)
    # the activation key is in answers, never in the log (paths are masked)
    assert f"GET /api/license/****-****-****-{key[-4:]} " in logs[-2]
    for value in (key, key.replace("-", "")):
        assert value not in "\n".join(logs), value[:12]

    # at rest: ciphertext only, no token secret anywhere
    for stored in keys:
        assert b"PRIVATE KEY" not in stored.private_key_encrypted
        with pytest.raises(ValueError):
            serialization.load_der_private_key(stored.private_key_encrypted, password=None)
    database = Database.from_settings(empty_settings)
    try:
        async with database.read() as connection:
            rows = (await connection.execute(select(AccessToken))).all()
    finally:
        await database.dispose()
    assert rows and not any(secret in str(row) for row in rows for secret in secrets[:2])


async def test_master_key_rotation_re_encrypts_every_private_key(empty_settings: Settings) -> None:
    upgrade(empty_settings)
    old = MasterKey.from_base64(empty_settings.master_key or "")
    for name in ("One", "Two"):
        _run(empty_settings, "tenant", "create", name)
    _run(empty_settings, "keys", "rotate", "--tenant", "One")
    before = await _private_keys(empty_settings, old)
    signed = {key.id: _der(load_private_key(key, old)) for key in before}
    new_key = MasterKey.generate_base64()

    result = json.loads(
        _run(
            empty_settings,
            "keys",
            "rotate-master",
            "--json",
            env={"EXISONE_NEW_MASTER_KEY": new_key},
        ).stdout
    )

    new = MasterKey.from_base64(new_key)
    assert (result["oldKeyId"], result["newKeyId"], result["cryptoKeys"]) == (
        old.key_id,
        new.key_id,
        5,  # each tenant's RSA and Ed25519 keys, and One's rotated RSA key
    )
    after = await _private_keys(empty_settings, new)
    assert {key.master_key_id for key in after} == {new.key_id}
    for key in after:  # same key pairs, now readable only with the new master key
        assert _der(load_private_key(key, new)) == signed[key.id]
        with pytest.raises(RuntimeError):
            load_private_key(key, old)
    # the server runs with the new key: offline codes are signed again
    settings = empty_settings.with_changes(master_key=new_key)
    token = json.loads(
        _run(
            settings, "token", "create", "--tenant", "One", "--permission", "admin", "--json"
        ).stdout
    )["token"]
    headers = {"Authorization": f"ExisOneApi {token}"}
    with running(settings, 1, "--log-level", "warning") as (server,):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await client.post("/api/product", json={"name": "P"}, headers=headers)
            key = (
                await client.post(
                    "/api/activationkey/generate",
                    json={"productName": "P", "email": "a@b.co"},
                    headers=headers,
                )
            ).json()["activationKey"]
            code = await client.post(
                "/api/license/offline-code",
                json={"activationKey": key, "hardwareId": "X"},
                headers=headers,
            )
    assert code.status_code == 200, code.text
    # rotating again from the old key is refused: nothing is under it any more
    again = subprocess.run(
        cli(empty_settings, "keys", "rotate-master"),
        env=environment(empty_settings, {"EXISONE_NEW_MASTER_KEY": MasterKey.generate_base64()}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode != 0 and "another master key" in again.stderr


async def test_a_key_file_is_replaced_by_the_rotation(empty_settings: Settings) -> None:
    settings = empty_settings.with_changes(master_key=None)
    upgrade(settings)
    env = {"EXISONE_MASTER_KEY": ""}
    subprocess.run(
        cli(settings, "tenant", "create", "Filed"),
        env=environment(settings, env),
        check=True,
        capture_output=True,
        timeout=120,
    )
    key_file = settings.data_dir / "master.key"
    old = MasterKey.from_base64(key_file.read_text())

    done = subprocess.run(
        cli(settings, "keys", "rotate-master", "--json"),
        env=environment(settings, env),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )

    new = MasterKey.from_base64(key_file.read_text())
    assert new.key_id != old.key_id and json.loads(done.stdout)["newKeyId"] == new.key_id
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert new_key_not_printed(done.stdout, new)
    assert {key.master_key_id for key in await _private_keys(settings, new)} == {new.key_id}


def new_key_not_printed(output: str, key: MasterKey) -> bool:
    return base64.b64encode(key.key).decode() not in output


async def test_master_key_rotation_re_encrypts_smtp_passwords(empty_settings: Settings) -> None:
    from exisone_server.mail.routing import decrypt_password
    from exisone_server.mail.service import SmtpForm, save_smtp_settings
    from exisone_server.models import TenantMailSettings

    upgrade(empty_settings)
    old = MasterKey.from_base64(empty_settings.master_key or "")
    tenant = json.loads(_run(empty_settings, "tenant", "create", "Mailer", "--json").stdout)
    database = Database.from_settings(empty_settings)
    try:
        async with database.write() as session:
            await save_smtp_settings(
                session,
                tenant["tenantId"],
                old,
                SmtpForm(host="smtp.example.com", username="u", password="smtp-secret-1"),
            )
        new_key = MasterKey.generate_base64()
        key_file = empty_settings.data_dir / "new-master.key"
        key_file.write_text(new_key)
        rotated = _run(
            empty_settings, "keys", "rotate-master", "--new-key-file", str(key_file), "--json"
        )
        async with database.read_session() as session:
            row = await session.scalar(select(TenantMailSettings))
    finally:
        await database.dispose()

    assert json.loads(rotated.stdout)["smtpPasswords"] == 1
    assert row is not None and decrypt_password(MasterKey.from_base64(new_key), row) == (
        "smtp-secret-1"
    )
    assert "smtp-secret-1" not in rotated.stdout + rotated.stderr


async def test_stripe_app_secrets_are_prompted_hidden_and_rotated(empty_settings: Settings) -> None:
    """``stripe add-app`` reads the secrets from stdin (never echoes them); master-key rotation
    re-encrypts them; the diagnostics say both still decrypt."""
    from exisone_server.models import PaymentApp
    from exisone_server.payments.apps import app_keys

    upgrade(empty_settings)
    _run(empty_settings, "tenant", "create", "Seller", "--json")
    secret, signing = "sk_test_" + "9" * 24, "whsec_" + "8" * 32
    added = subprocess.run(
        cli(
            empty_settings,
            *("stripe", "add-app", "--tenant", "Seller", "--name", "Main", "--json"),
        ),
        env=environment(empty_settings),
        input=f"{secret}\n{signing}\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(added.stdout)["status"] == "Ready"
    assert secret not in added.stdout + added.stderr and signing not in added.stdout + added.stderr
    new_key = MasterKey.generate_base64()
    key_file = empty_settings.data_dir / "new-master.key"
    key_file.write_text(new_key)
    rotated = _run(
        empty_settings, "keys", "rotate-master", "--new-key-file", str(key_file), "--json"
    )
    assert json.loads(rotated.stdout)["paymentApps"] == 1
    database = Database.from_settings(empty_settings)
    try:
        async with database.read_session() as session:
            app = await session.scalar(select(PaymentApp))
    finally:
        await database.dispose()
    assert app is not None and app.master_key_id == MasterKey.from_base64(new_key).key_id
    keys = app_keys(MasterKey.from_base64(new_key), app)
    assert (keys.secret_key, keys.signing_secret) == (secret, signing)
    diagnostics = _run(
        empty_settings,
        "stripe",
        "diagnostics",
        "--tenant",
        "Seller",
        "--json",
        env={"EXISONE_MASTER_KEY": new_key},
    )
    assert json.loads(diagnostics.stdout)[0]["status"] == "Ready"
