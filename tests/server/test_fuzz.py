"""Random JSON bodies never crash a client endpoint: always < 500, errors in the right shape."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.db import Database

from .conftest import TEST_MASTER_KEY
from .seeding import ALL_PERMISSIONS, Seed

ENDPOINTS = [
    "/api/license/activate",
    "/api/license/validate",
    "/api/license/deactivate",
    "/api/license/features/csv",
    "/api/support/ticket",
]
FIELDS = [
    "activationKey",
    "licenseKey",
    "hardwareId",
    "productName",
    "email",
    "version",
    "subject",
    "message",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | st.sampled_from(["\x00", "a\x00b", "é" * 300, "-" * 60, "x" * 600]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=80), max_size=6),
)


@pytest.fixture
def sync_client(settings: Settings) -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    async def make_token() -> str:
        database = Database.from_settings(settings)
        try:
            seed = await Seed.create(database, TEST_MASTER_KEY, None)  # type: ignore[arg-type]
            return await seed.token(*ALL_PERMISSIONS)
        finally:
            await database.dispose()

    token = asyncio.run(make_token())
    app = create_app(settings, master_key=TEST_MASTER_KEY)
    with TestClient(app) as client:
        yield client, {"Authorization": f"ExisOneApi {token}"}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_random_bodies_never_crash(
    sync_client: tuple[TestClient[Any], dict[str, str]], endpoint: str, body: Any
) -> None:
    client, headers = sync_client

    response = client.post(endpoint, json=body, headers=headers)

    assert response.status_code < 500, (endpoint, body, response.text)
    if response.status_code >= 400:
        error = response.json()
        assert isinstance(error["error"], str) and isinstance(error["message"], str)
