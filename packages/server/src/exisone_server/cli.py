"""The ``exisone-server`` command: serve, migrate, tenants, tokens, keys, demo, db copy, backup.

Configuration comes from ``EXISONE_*`` environment variables (see config.py); ``--data-dir`` and
``--database-url`` override them for one command. Output for scripts: ``--json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from . import __version__, serving
from .auth import Permission, create_access_token
from .config import Settings
from .crypto.master_key import MasterKey, load_master_key
from .crypto.service import list_crypto_keys, rotate_crypto_key
from .dashboard.cli import demo_dashboard_user, user_group
from .db import Database
from .dbtools.cli import backup as backup_command
from .dbtools.cli import db as db_group
from .dbtools.cli import restore as restore_command
from .kit.access_log import AccessLog
from .kit.cli import run_with_settings
from .kit.log_format import (
    LOG_FORMAT_VARIABLE,
    JsonFormatter,
    LogFormat,
    log_format_from_env,
)
from .kit.proxy_headers import TrustedProxies
from .licenses.import_command import license_group
from .mail.cli import mail as mail_group
from .metrics.settings import MetricsSettings, new_metrics_token
from .metrics.worker_files import metrics_folder
from .migrate import upgrade
from .models import KeyAlgorithm
from .payments.cli import payments as payments_group
from .payments.cli import stripe as stripe_group
from .security.cli_commands import rotate_master
from .webhooks.cli import webhook as webhook_group

__all__ = ["main"]

T = TypeVar("T")

#: ``demo`` prints the access token once more on a line of its own, after this label.
TOKEN_LINE = "Access token, to copy: "

console = Console()
errors = Console(stderr=True)


def _settings(context: click.Context) -> Settings:
    settings: Settings = context.obj
    return settings


def _master_key(settings: Settings) -> MasterKey:
    try:
        return load_master_key(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


#: Run ``work`` with a database and the master key, then dispose of the engine.
_run = run_with_settings


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _safe_url(database_url: str) -> str:
    """The database URL with any password masked."""
    return make_url(database_url).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exisone-server")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data folder (overrides EXISONE_DATA_DIR).",
)
@click.option("--database-url", help="SQLAlchemy URL (overrides EXISONE_DATABASE_URL).")
@click.pass_context
def main(context: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Self-hosted ExisOne-compatible license server."""
    environ = dict(os.environ)
    if data_dir is not None:
        environ["EXISONE_DATA_DIR"] = str(data_dir)
    if database_url:
        environ["EXISONE_DATABASE_URL"] = database_url
    try:
        context.obj = Settings.from_env(environ)
    except ValueError as exc:  # one line, not the usage text: the environment is at fault
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def migrate(context: click.Context, revision: str) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(context)
    upgrade(settings, revision)
    errors.print(f"[green]Database at {_safe_url(settings.database_url)} is at {revision}.[/]")


@main.command()
@click.option("--host", help="Address to bind (EXISONE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (EXISONE_PORT, default 8000).")
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS cert (PEM)."
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS key (PEM, unencrypted).",
)
@click.option(
    "--migrate/--no-migrate",
    "run_migrations",
    default=True,
    show_default=True,
    help="Apply pending migrations before serving.",
)
@click.option(
    "--forwarded-allow-ips",
    help="Proxies whose X-Forwarded-For/-Proto are trusted (EXISONE_FORWARDED_ALLOW_IPS, "
    "default 127.0.0.1).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Above info, the access log is off.",
)
@click.option(
    "--access-log",
    type=click.Choice([form.value for form in AccessLog], case_sensitive=False),
    help="Access log format (EXISONE_ACCESS_LOG, default text): text lines or JSON lines.",
)
@click.option(
    "--log-format",
    type=click.Choice([form.value for form in LogFormat], case_sensitive=False),
    help="The server's log lines (EXISONE_LOG_FORMAT, default text): text or JSON lines.",
)
@click.option(
    "--app-factory",
    default="exisone_server.asgi:app_from_env",
    hidden=True,
    help="module:function building the ASGI app (the benchmarks add a reference route).",
)
@click.pass_context
def serve(
    context: click.Context,
    host: str | None,
    port: int | None,
    workers: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    run_migrations: bool,
    forwarded_allow_ips: str | None,
    log_level: str,
    access_log: str | None,
    log_format: str | None,
    app_factory: str,
) -> None:
    """Run the HTTP(S) server (granian)."""
    settings = _settings(context)
    try:
        form = LogFormat(log_format.lower()) if log_format else log_format_from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together")
    if ssl_keyfile and (problem := serving.tls_key_problem(ssl_keyfile)):
        raise click.UsageError(problem)
    trusted_proxies = forwarded_allow_ips or settings.forwarded_allow_ips
    try:
        TrustedProxies(trusted_proxies)
    except ValueError as exc:
        raise click.UsageError(f"--forwarded-allow-ips: {exc} (addresses, networks or *)") from exc
    if run_migrations:
        upgrade(settings)
    _master_key(settings)  # check it, and generate the key file once before workers start
    try:
        metrics = MetricsSettings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    host = host or settings.host
    port = port if port is not None else settings.port
    scheme = "https" if ssl_certfile else "http"
    started = (
        f"exisone-server {__version__} on {scheme}://{host}:{port} "
        f"(database {_safe_url(settings.database_url)}, {workers} worker(s))"
    )
    if form is LogFormat.JSON:
        record = logging.makeLogRecord({"msg": started, "name": "exisone_server", "levelno": 20})
        record.levelname = "INFO"
        click.echo(JsonFormatter().format(record), err=True)
    else:
        errors.print(started)
    os.environ[LOG_FORMAT_VARIABLE] = form.value  # read by the workers (asgi.configure_logging)
    # The workers build the app from the environment (serving.load_app): hand them our settings.
    os.environ["EXISONE_DATA_DIR"] = str(settings.data_dir)
    os.environ["EXISONE_DATABASE_URL"] = settings.database_url
    os.environ["EXISONE_FORWARDED_ALLOW_IPS"] = trusted_proxies
    options = serving.ServeOptions(
        app_factory=app_factory,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        access_log=(access_log or settings.access_log).lower(),
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_format=form.value,
    )
    # The workers write their metrics into one folder of this run (a scrape sums them).
    with metrics_folder() if metrics.enabled else contextlib.nullcontext():
        serving.run(options)


@main.command("metrics-token")
def metrics_token() -> None:
    """Make a token for /metrics (EXISONE_METRICS=token): the token is printed once, for the
    scraper; the server is given its SHA-256 only."""
    token, digest = new_metrics_token()
    errors.print("Give the scraper this token (it is not shown again):")
    click.echo(token)
    errors.print("and the server this setting:")
    click.echo(f"EXISONE_METRICS_TOKEN_SHA256={digest}")


@main.group()
def tenant() -> None:
    """Tenants (publishers)."""


@tenant.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tenant_create(context: click.Context, name: str, as_json: bool) -> None:
    """Create tenant NAME with its first RSA key pair."""
    from .tenants.service import create_tenant

    async def work(database: Database, master_key: MasterKey) -> dict[str, Any]:
        async with database.write() as session:
            created = await create_tenant(session, name, master_key)
            return {"tenantId": created.id, "name": created.name}

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
    else:
        console.print(
            f"Tenant [bold]{data['name']}[/] created with id [bold]{data['tenantId']}[/]."
        )


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tenant_list(context: click.Context, as_json: bool) -> None:
    """List tenants."""
    from sqlalchemy import select

    from .models import Tenant

    async def work(database: Database, _: MasterKey) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            rows = await session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.id))
            return [{"tenantId": row.id, "name": row.name} for row in rows]

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
        return
    table = Table("id", "name")
    for row in data:
        table.add_row(str(row["tenantId"]), row["name"])
    console.print(table)


@main.group()
def token() -> None:
    """API access tokens."""


@token.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    required=True,
    type=click.Choice([p.value for p in Permission]),
    help="Repeat for several: verify, generate, email, admin (admin implies all).",
)
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expire after N days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def token_create(
    context: click.Context,
    tenant_ref: str,
    permissions: tuple[str, ...],
    name: str,
    expires_days: int | None,
    as_json: bool,
) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    from .tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> dict[str, Any]:
        async with database.write() as session:
            found = await get_tenant(session, tenant_ref)
            issued = await create_access_token(
                session,
                tenant_id=found.id,
                name=name,
                permissions=permissions,
                expires_in=timedelta(days=expires_days) if expires_days else None,
            )
            return {
                "token": issued.token,
                "tenantId": found.id,
                "name": name,
                "permissions": issued.record.permissions,
                "expiresAt": issued.record.expires_at.isoformat()
                if issued.record.expires_at
                else None,
            }

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
        return
    errors.print(
        f"Token for tenant {data['tenantId']} ({', '.join(data['permissions'])}); "
        "store it now, it is not shown again:"
    )
    click.echo(data["token"])


@token.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def token_list(context: click.Context, tenant_ref: str, as_json: bool) -> None:
    """List a tenant's tokens (public ids only; secrets are never stored)."""
    from sqlalchemy import select

    from .models import AccessToken
    from .tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            found = await get_tenant(session, tenant_ref)
            rows = await session.scalars(
                select(AccessToken)
                .where(AccessToken.tenant_id == found.id)
                .order_by(AccessToken.seq, AccessToken.id)
            )
            return [
                {
                    "publicId": row.public_id,
                    "name": row.name,
                    "permissions": row.permissions,
                    "createdAt": row.created_at.isoformat(),
                    "expiresAt": row.expires_at.isoformat() if row.expires_at else None,
                    "revoked": row.revoked,
                }
                for row in rows
            ]

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
        return
    table = Table("public id", "name", "permissions", "expires", "revoked")
    for row in data:
        table.add_row(
            row["publicId"],
            row["name"],
            ", ".join(row["permissions"]),
            row["expiresAt"] or "never",
            "yes" if row["revoked"] else "",
        )
    console.print(table)


@token.command("revoke")
@click.argument("public_id")
@click.pass_context
def token_revoke(context: click.Context, public_id: str) -> None:
    """Revoke a token by its public id (the part after ``exo_at_``) or the whole token."""
    from sqlalchemy import select

    from .auth.tokens import parse_token, revoke_access_token
    from .models import AccessToken

    parsed = parse_token(public_id)
    reference = parsed[0] if parsed else public_id

    async def work(database: Database, _: MasterKey) -> int:
        async with database.write() as session:
            found = await session.scalar(
                select(AccessToken).where(AccessToken.public_id == reference)
            )
            if found is None:
                return 0
            await revoke_access_token(session, found.tenant_id, found.id)  # in the audit log
            return 1

    if _run(_settings(context), work) == 0:
        raise click.ClickException(f"No token with public id {reference!r}.")
    errors.print(f"Token {reference} revoked.")


@main.group()
def keys() -> None:
    """Tenant crypto keys (offline codes, signed answers, lease tokens)."""


@keys.command("rotate")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_rotate(context: click.Context, tenant_ref: str, as_json: bool) -> None:
    """Make a new current key pair; old public keys stay listed (old codes keep verifying)."""
    from .tenants.service import get_tenant

    async def work(database: Database, master_key: MasterKey) -> dict[str, Any]:
        async with database.write() as session:
            found = await get_tenant(session, tenant_ref)
            key = await rotate_crypto_key(session, found.id, master_key)
            count = len(await list_crypto_keys(session, found.id))
            return {
                "tenantId": found.id,
                "fingerprint": key.fingerprint,
                "publicKey": key.public_key_pem,
                "keyCount": count,
            }

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
        return
    errors.print(
        f"New current key {data['fingerprint'][:16]}… for tenant {data['tenantId']} "
        f"({data['keyCount']} keys in total). Give clients the new public key:"
    )
    click.echo(data["publicKey"], nl=False)


@keys.command("show")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option("--all", "show_all", is_flag=True, help="Every key, Ed25519 and retired ones too.")
@click.pass_context
def keys_show(context: click.Context, tenant_ref: str, show_all: bool) -> None:
    """Print the tenant's current RSA public key (PEM); with --all, every public key (what a
    client's offline_public_key takes)."""
    from .crypto.service import current_crypto_key, public_keys_pem
    from .tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> str:
        async with database.read_session() as session:
            found = await get_tenant(session, tenant_ref)
            if show_all:
                return await public_keys_pem(session, found.id)
            return (await current_crypto_key(session, found.id)).public_key_pem

    click.echo(_run(_settings(context), work), nl=False)


@keys.command("lease-tokens")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.argument("algorithm", type=click.Choice([kind.value for kind in KeyAlgorithm]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_lease_tokens(
    context: click.Context, tenant_ref: str, algorithm: str, as_json: bool
) -> None:
    """Sign the tenant's lease tokens with ed25519 (a new Ed25519 key; clients need its public
    key) or rsa (the Ed25519 key is retired; the RSA key signs them)."""
    from .crypto.service import sign_lease_tokens_with
    from .tenants.service import get_tenant

    async def work(database: Database, master_key: MasterKey) -> dict[str, Any]:
        async with database.write() as session:
            found = await get_tenant(session, tenant_ref)
            data: dict[str, Any] = {"tenantId": found.id, "leaseTokens": algorithm}
            key = await sign_lease_tokens_with(
                session, found.id, master_key, KeyAlgorithm(algorithm)
            )
            if key is not None:
                data |= {"fingerprint": key.fingerprint, "publicKey": key.public_key_pem}
            return data

    data = _run(_settings(context), work)
    if as_json:
        _echo_json(data)
        return
    if "publicKey" in data:
        errors.print(
            f"Tenant {data['tenantId']} signs lease tokens with a new Ed25519 key "
            f"{data['fingerprint'][:16]}…; add its public key to your clients' trusted keys:"
        )
        click.echo(data["publicKey"], nl=False)
    else:
        errors.print(f"Tenant {data['tenantId']} signs lease tokens with its RSA key.")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@click.option("--https", "use_https", is_flag=True, help="Print an https:// server URL.")
@click.option("--url", "server_url", help="Server URL to print (default from host and port).")
@click.option("--no-migrate", "skip_migrations", is_flag=True, help="Do not migrate first.")
@click.pass_context
def demo(
    context: click.Context,
    as_json: bool,
    use_https: bool,
    server_url: str | None,
    skip_migrations: bool,
) -> None:
    """Create demo data: tenant, product, plan, two new keys and a new all-permission token."""
    from .demo import create_demo

    settings = _settings(context)
    if not skip_migrations:
        upgrade(settings)

    async def work(database: Database, master_key: MasterKey) -> Any:
        async with database.write() as session:
            return await create_demo(session, master_key)

    data = _run(settings, work)
    login = _run(settings, lambda db, _: demo_dashboard_user(db, data.tenant_id))
    url = server_url or f"{'https' if use_https else 'http'}://{settings.host}:{settings.port}"
    payload = {
        "serverUrl": url,
        "tenantId": data.tenant_id,
        "tenantName": data.tenant_name,
        "productId": data.product_id,
        "productName": data.product_name,
        "productVersion": data.product_version,
        "minimumRequiredVersion": data.minimum_required_version,
        "trialDays": data.trial_days,
        "planId": data.plan_id,
        "floatingPlanId": data.floating_plan_id,
        "features": list(data.features),
        "singleDeviceKey": data.single_device_key,
        "corporateKey": data.corporate_key,
        "corporateMaxSeats": data.corporate_max_seats,
        "accessToken": data.access_token,
        "permissions": list(data.permissions),
        "publicKeyPem": data.public_key_pem,
        "leasePublicKeyPem": data.lease_public_key_pem,
        "dataDir": str(settings.data_dir),
        "databaseUrl": _safe_url(settings.database_url),
        "dashboardUrl": f"{url}/dashboard/",
        "dashboardUser": login[0],
        "dashboardPassword": login[1],
    }
    if as_json:
        _echo_json(payload)
        return
    table = Table(title="exisone-server demo", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in [
        ("Server URL", url),
        ("Tenant", f"{data.tenant_name} (id {data.tenant_id})"),
        (
            "Product",
            f"{data.product_name} v{data.product_version} (minimum "
            f"{data.minimum_required_version}, {data.trial_days}-day trial)",
        ),
        ("Features", ", ".join(data.features)),
        ("Single-device key", data.single_device_key),
        ("Corporate key", f"{data.corporate_key} ({data.corporate_max_seats} seats)"),
        ("Access token", data.access_token),
        ("Permissions", ", ".join(data.permissions)),
        ("Dashboard", f"{url}/dashboard/ ({login[0]} / {login[1]})"),
        ("Data", f"{settings.data_dir} ({_safe_url(settings.database_url)})"),
    ]:
        table.add_row(label, value)
    console.print(table)
    click.echo(f"{TOKEN_LINE}{data.access_token}")  # the table may fold it; this line does not
    if data.lease_public_key_pem:
        console.print("Public keys (offline_public_key takes both; the second signs lease tokens):")
        click.echo(data.public_key_pem + data.lease_public_key_pem, nl=False)
    else:
        console.print("Public key (offline_public_key):")
        click.echo(data.public_key_pem, nl=False)


main.add_command(license_group)  # license import (the bulk path)
main.add_command(user_group)  # user create|list|password: dashboard users
main.add_command(webhook_group)  # webhook create|list|delete|deliveries
main.add_command(mail_group)  # mail test|queue: e-mail delivery
main.add_command(stripe_group)  # stripe add-app|diagnostics
main.add_command(payments_group)  # payments add-app|apps|events|replay
main.add_command(db_group)  # db copy: SQLite to PostgreSQL
main.add_command(backup_command)
main.add_command(restore_command)
keys.add_command(rotate_master)  # keys rotate-master: re-encrypt under a new master key
