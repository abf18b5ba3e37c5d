"""``exisone-server user create|password|list`` and the demo's dashboard login."""

from __future__ import annotations

import asyncio
import json

import httpx
from click.testing import CliRunner, Result

from exisone_server.app import create_app
from exisone_server.cli import main
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database

from .helpers import submit_login


def _invoke(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        main,
        ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url, *args],
        env={"EXISONE_MASTER_KEY": settings.master_key or ""},
        input=stdin,
        catch_exceptions=False,
    )


async def _login_status(settings: Settings, email: str, password: str) -> int:
    database = Database.from_settings(settings)
    try:
        app = create_app(
            settings, database=database, master_key=MasterKey.from_base64(settings.master_key or "")
        )
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await submit_login(client, email, password)).status_code
    finally:
        await database.dispose()


def _can_log_in(settings: Settings, email: str, password: str) -> bool:
    return asyncio.run(_login_status(settings, email, password)) == 302


def test_user_create_password_and_list(empty_settings: Settings) -> None:
    assert _invoke(empty_settings, "migrate").exit_code == 0
    assert _invoke(empty_settings, "tenant", "create", "Acme").exit_code == 0
    created = _invoke(
        empty_settings,
        "user",
        "create",
        "--tenant",
        "Acme",
        "--email",
        "Boss@Acme.test",
        "--password-stdin",
        stdin="first password 1\n",
    )
    assert created.exit_code == 0, created.output
    assert "boss@acme.test" in created.stderr
    again = _invoke(
        empty_settings,
        "user",
        "create",
        "--tenant",
        "Acme",
        "--email",
        "boss@acme.test",
        "--password-stdin",
        stdin="first password 1\n",
    )
    short = _invoke(
        empty_settings,
        "user",
        "create",
        "--tenant",
        "Acme",
        "--email",
        "x@acme.test",
        "--password-stdin",
        stdin="short\n",
    )
    unknown = _invoke(
        empty_settings,
        "user",
        "create",
        "--tenant",
        "Nobody",
        "--email",
        "y@acme.test",
        "--password-stdin",
        stdin="long enough password\n",
    )
    assert again.exit_code != 0 and "already exists" in again.output
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    assert unknown.exit_code != 0 and "No tenant" in unknown.output
    assert _can_log_in(empty_settings, "boss@acme.test", "first password 1")

    changed = _invoke(
        empty_settings,
        "user",
        "password",
        "--email",
        "boss@acme.test",
        "--password-stdin",
        stdin="second password 2\n",
    )
    assert changed.exit_code == 0, changed.output
    assert not _can_log_in(empty_settings, "boss@acme.test", "first password 1")
    assert _can_log_in(empty_settings, "boss@acme.test", "second password 2")
    listed = _invoke(empty_settings, "user", "list")
    assert "boss@acme.test" in listed.stdout and "first password" not in listed.stdout


def test_demo_prints_a_working_dashboard_login(empty_settings: Settings) -> None:
    first = json.loads(_invoke(empty_settings, "demo", "--json").stdout)
    second = json.loads(_invoke(empty_settings, "demo", "--json", "--no-migrate").stdout)
    assert first["dashboardUser"] == second["dashboardUser"] == "demo@example.com"
    assert first["dashboardUrl"].endswith("/dashboard/")
    assert first["dashboardPassword"] != second["dashboardPassword"]  # reset on every run
    assert not _can_log_in(empty_settings, "demo@example.com", first["dashboardPassword"])
    assert _can_log_in(empty_settings, "demo@example.com", second["dashboardPassword"])
