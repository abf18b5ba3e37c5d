"""One real demo server for the docs' tests; client state in a fresh folder for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.examples.live_server import DemoServer, demo_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo tenant, plus ``serverUrl``, a 5-seat corporate plan (``corporatePlanId``) and
    an API product with 100 calls per key (``apiProductName``)."""
    with demo_server(tmp_path_factory.mktemp("docs-server")) as running:
        running.demo["serverUrl"] = running.base_url
        with running.publisher() as http:
            plan = http.post(
                "/api/plan",
                json={
                    "name": "Docs Team",
                    "isCorporate": True,
                    "maxSeats": 5,
                    "features": ["Export", "Pro"],
                    "productId": running.demo["productId"],
                },
            )
            api = http.post(
                "/api/product",
                json={"name": "Docs API", "isApiProduct": True, "defaultApiCalls": 100},
            )
        assert plan.status_code == 201, plan.text
        assert api.status_code == 201, api.text
        running.demo["corporatePlanId"] = plan.json()["id"]
        running.demo["apiProductName"] = "Docs API"
        yield running


@pytest.fixture(autouse=True)
def _isolated_client_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EXISONE_BASEURL", "EXISONE_TOKEN", "EXISONE_HARDWARE_ID", "EXISONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("client-state")))
