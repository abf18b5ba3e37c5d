"""Schemathesis against the server's own OpenAPI document, over a real socket, with an admin
token of a seeded tenant: no 5xx and no answer that breaks the documented schema."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database

from .security_servers import Server, running
from .seeding import Seed

pytestmark = pytest.mark.slow

#: Examples per operation: about 40 operations, so a few hundred requests per database.
MAX_EXAMPLES = int(os.environ.get("EXISONE_SCHEMATHESIS_EXAMPLES", "12"))


@dataclass
class Target:
    server: Server
    token: str


async def _seed(settings: Settings) -> str:
    database = Database.from_settings(settings)
    try:
        async with httpx.AsyncClient() as unused:
            seed = await Seed.create(
                database, MasterKey.from_base64(settings.master_key or ""), unused
            )
        product = await seed.product("Fuzzed", trial_days=5)
        await seed.license(product, is_corporate=True, max_seats=3)
        return seed.api.token
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def target(settings: Settings) -> Iterator[Target]:
    token = asyncio.run(_seed(settings))
    env = {"EXISONE_RATE_LIMIT_LOOKUP_PER_IP": "0", "EXISONE_RATE_LIMIT_LOOKUP_PER_TOKEN": "0"}
    with running(settings, 1, "--log-level", "warning", env=env) as (server,):
        yield Target(server, token)


def test_the_api_keeps_its_own_schema(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.server.url}/schema/openapi.json")
    headers = {"Authorization": f"ExisOneApi {target.token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 35

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize="EXISONE_SCHEMATHESIS_EXAMPLES" not in os.environ,
            database=None,
        )
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers, timeout=30)
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
