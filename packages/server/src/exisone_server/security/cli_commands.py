"""``exisone-server keys rotate-master``: re-encrypt the stored secrets under a new master key."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path

import click

from ..config import Settings
from ..crypto.master_key import MASTER_KEY_FILE, MasterKey, load_master_key
from ..db import Database
from .master_key_rotation import MasterKeyRotation, rotate_master_key

__all__ = ["rotate_master"]


def _new_key(new_key_file: Path | None) -> tuple[MasterKey, bool]:
    """The new key (from a file, ``EXISONE_NEW_MASTER_KEY`` or generated) and whether generated."""
    try:
        if new_key_file is not None:
            return MasterKey.from_base64(new_key_file.read_text(encoding="ascii")), False
        if os.environ.get("EXISONE_NEW_MASTER_KEY"):
            return MasterKey.from_base64(os.environ["EXISONE_NEW_MASTER_KEY"]), False
    except ValueError as exc:
        raise click.ClickException(f"the new master key: {exc}") from exc
    return MasterKey(os.urandom(32)), True


def _write_key_file(path: Path, key: MasterKey) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(_text(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _text(key: MasterKey) -> str:
    """Base64 text of a key (written only to the key file or, once, to stdout)."""
    return base64.b64encode(key.key).decode("ascii")


@click.command("rotate-master")
@click.option(
    "--new-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the new key (base64 of 32 bytes); else EXISONE_NEW_MASTER_KEY; "
    "else a new key is generated.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rotate_master(context: click.Context, new_key_file: Path | None, as_json: bool) -> None:
    """Re-encrypt every private key and webhook secret under a new master key.

    The current key (EXISONE_MASTER_KEY or <data dir>/master.key) is needed this one time.
    A key file in the data directory is replaced; with EXISONE_MASTER_KEY, set it to the new
    key before starting the server again (a generated key is printed once, on stdout).
    """
    settings: Settings = context.obj
    try:
        old = load_master_key(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    new, generated = _new_key(new_key_file)
    from_file = not settings.master_key
    key_file = settings.data_dir / MASTER_KEY_FILE
    staged = key_file.with_name(MASTER_KEY_FILE + ".new")
    if from_file:
        _write_key_file(staged, new)  # first, so the new key exists before any row needs it

    async def work() -> MasterKeyRotation:
        database = Database.from_settings(settings)
        try:
            async with database.write() as session:
                return await rotate_master_key(session, old, new)
        finally:
            await database.dispose()

    try:
        result = asyncio.run(work())
    except ValueError as exc:
        if from_file:
            staged.unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from exc
    if from_file:
        os.replace(staged, key_file)
    summary = {
        "oldKeyId": result.old_key_id,
        "newKeyId": result.new_key_id,
        "cryptoKeys": result.crypto_keys,
        "webhookSecrets": result.webhook_secrets,
        "smtpPasswords": result.smtp_passwords,
        "paymentApps": result.payment_apps,
        "keyFile": str(key_file) if from_file else None,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"Re-encrypted {result.crypto_keys} private key(s), {result.webhook_secrets} "
            f"webhook secret(s), {result.smtp_passwords} SMTP password(s) and "
            f"{result.payment_apps} payment app(s): master key "
            f"{result.old_key_id} -> {result.new_key_id}.",
            err=True,
        )
    if from_file:
        click.echo(f"{key_file} now holds the new key.", err=True)
        return
    click.echo("Set EXISONE_MASTER_KEY to the new key before starting the server.", err=True)
    if generated:
        click.echo(_text(new))
