"""``exisone-server user create|list|password``: dashboard users (registered in the main CLI)."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from ..config import Settings
from ..crypto.master_key import MasterKey
from ..db import Database

__all__ = ["demo_dashboard_user", "user_group"]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("the password is empty")
    return str(password)


@click.group("user")
def user_group() -> None:
    """Dashboard users (log in at /dashboard)."""


@user_group.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option("--email", required=True, help="Login email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_create(context: click.Context, tenant_ref: str, email: str, password_stdin: bool) -> None:
    """Create a dashboard user of a tenant (the password is asked, or read from stdin)."""
    from ..cli import _run
    from ..tenants.service import get_tenant
    from .accounts import create_user

    settings: Settings = context.obj
    password = _read_password(password_stdin)

    async def work(database: Database, _: MasterKey) -> str:
        async with database.write() as session:
            tenant = await get_tenant(session, tenant_ref)
            user = await create_user(session, tenant.id, email, password)
            return f"User {user.email} created for tenant {tenant.name} (id {tenant.id})."

    click.echo(_run(settings, work), err=True)


@user_group.command("password")
@click.option("--email", required=True, help="Login email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_password(context: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password (also unlocks the account and ends its sessions)."""
    from ..cli import _run
    from ..errors import NotFound
    from ..models import DashboardUser
    from .accounts import normalize_email, set_password

    settings: Settings = context.obj
    password = _read_password(password_stdin)

    async def work(database: Database, _: MasterKey) -> str:
        async with database.write() as session:
            address = normalize_email(email)
            user = await session.scalar(select(DashboardUser).where(DashboardUser.email == address))
            if user is None:
                raise NotFound("user_not_found", f"No dashboard user {address!r}.")
            await set_password(session, user, password)
            return f"Password of {address} changed; its sessions were ended."

    click.echo(_run(settings, work), err=True)


@user_group.command("list")
@click.pass_context
def user_list(context: click.Context) -> None:
    """List dashboard users: email, tenant id, last login."""
    from ..cli import _run
    from ..models import DashboardUser

    settings: Settings = context.obj

    async def work(database: Database, _: MasterKey) -> list[str]:
        async with database.read_session() as session:
            users = await session.scalars(select(DashboardUser).order_by(DashboardUser.id))
            return [
                f"{u.email}\ttenant {u.tenant_id}\tlast login "
                f"{u.last_login_at.isoformat() if u.last_login_at else 'never'}"
                for u in users
            ]

    for line in _run(settings, work):
        click.echo(line)


async def demo_dashboard_user(database: Database, tenant_id: int) -> tuple[str, str]:
    """For ``exisone-server demo``: the demo user with a new password."""
    from .accounts import reset_demo_user

    async with database.write() as session:
        return await reset_demo_user(session, tenant_id)
