"""Helpers of the in-process dashboard tests: make a user, log a client in, read CSRF tokens."""

from __future__ import annotations

import re
import secrets

import httpx

from exisone_server.dashboard.accounts import create_user
from exisone_server.db import Database

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def make_user(database: Database, tenant_id: int, email: str | None = None) -> str:
    email = email or f"user-{secrets.token_hex(5)}@example.com"
    async with database.write() as session:
        await create_user(session, tenant_id, email, PASSWORD)
    return email


async def submit_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
    )


async def login(client: httpx.AsyncClient, database: Database, tenant_id: int) -> str:
    """Log ``client`` in as a new user of the tenant; returns the user's email."""
    email = await make_user(database, tenant_id)
    answer = await submit_login(client, email)
    assert answer.status_code == 302, answer.text
    return email
