"""Every error has the {"error", "message"} shape; bad input is 4xx, never 500; paths."""

from __future__ import annotations

import httpx
import pytest
from litestar import Router, get

from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database

from .helpers import activate_body, assert_error
from .seeding import Seed


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{bad json", id="syntax"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"activationKey": "x",', id="truncated"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
async def test_malformed_json_is_400(seed: Seed, content: bytes) -> None:
    response = await seed.client.post(
        "/api/license/activate",
        content=content,
        headers={**seed.api.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] in ("invalid_json", "invalid_request")
    assert set(response.json()) == {"error", "message"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param({"activationKey": 5, "hardwareId": "h", "productName": "p"}, "activationKey"),
        pytest.param({"hardwareId": "h", "productName": "p"}, "activationKey"),
        pytest.param([1, 2], "object"),
        pytest.param("text", "object"),
        pytest.param(None, "object"),
        pytest.param({"activationKey": "k", "hardwareId": ["h"], "productName": "p"}, "hardwareId"),
    ],
)
async def test_invalid_bodies_are_400(seed: Seed, body: object, fragment: str) -> None:
    response = await seed.api.post("/api/license/activate", body)

    error = assert_error(response, 400, "invalid_request")
    assert fragment in error["message"]


async def test_unknown_fields_are_ignored(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)

    response = await seed.api.post(
        "/api/license/activate", {**activate_body(license, product), "deviceName": "laptop"}
    )

    assert response.status_code == 200


async def test_too_long_hardware_id_is_400(seed: Seed) -> None:
    response = await seed.api.post("/api/license/validate", {"hardwareId": "x" * 300})
    assert_error(response, 400, "invalid_request")


async def test_unknown_route_is_404_in_the_error_shape(seed: Seed) -> None:
    assert_error(await seed.api.get("/api/nothing/here"), 404, "not_found")


async def test_wrong_method_is_405(seed: Seed) -> None:
    assert_error(await seed.api.get("/api/license/activate"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("//api/license/validate", id="double-leading"),
        pytest.param("/api//license/validate", id="double-inner"),
        pytest.param("/api/license/validate/", id="trailing"),
    ],
)
async def test_slash_variants_reach_the_endpoint(seed: Seed, path: str) -> None:
    product = await seed.product(trial_days=3)
    url = f"http://testserver{path}"

    response = await seed.client.post(
        url, json={"hardwareId": "h", "productName": product.name}, headers=seed.api.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "trial"


async def test_openapi_schema_is_served(seed: Seed) -> None:
    response = await seed.client.get("/schema/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/license/activate" in paths
    assert "/api/license/{activation_key}/usage" in paths
    schemas = response.json()["components"]["schemas"]
    activate = next(schema for name, schema in schemas.items() if name.endswith("LicenseActivate"))
    assert "activationKey" in activate["properties"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/api/license/validate", {"hardwareId": "a\x00b"}, id="validate-hwid"),
        pytest.param(
            "/api/license/validate", {"hardwareId": "h", "productName": "p\x00"}, id="trial-name"
        ),
        pytest.param(
            "/api/license/validate", {"hardwareId": "h", "activationKey": "K\x00"}, id="key"
        ),
        pytest.param(
            "/api/license/activate",
            {"activationKey": "A\x00", "hardwareId": "h", "productName": "p"},
            id="activate",
        ),
        pytest.param(
            "/api/support/ticket",
            {"productName": "p", "email": "e", "subject": "s\x00", "message": "m"},
            id="ticket",
        ),
    ],
)
async def test_nul_characters_are_400_not_500(seed: Seed, path: str, body: dict[str, str]) -> None:
    response = await seed.api.post(path, body)

    assert_error(response, 400, "invalid_request")


async def test_nul_in_the_usage_path_is_not_found(seed: Seed) -> None:
    response = await seed.api.get("/api/license/AB%00CD/usage")
    assert_error(response, 404, "license_not_found")


@pytest.mark.parametrize(
    ("field", "value"),
    [pytest.param("email", "e" * 321, id="email"), pytest.param("version", "1" * 51, id="version")],
)
async def test_too_long_activation_fields_are_400(seed: Seed, field: str, value: str) -> None:
    product = await seed.product()
    license = await seed.license(product)

    response = await seed.api.post(
        "/api/license/activate", {**activate_body(license, product), field: value}
    )

    error = assert_error(response, 400, "invalid_request")
    assert field in error["message"]


async def test_unexpected_errors_are_500_without_details(
    settings: Settings,
    database: Database,
    master_key: MasterKey,
    caplog: pytest.LogCaptureFixture,
) -> None:

    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    app = create_app(
        settings,
        database=database,
        master_key=master_key,
        extra_routers=[Router(path="/api", route_handlers=[boom])],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    ) as client:
        response = await client.get("/api/boom")

    body = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and set(body) == {"error", "message"}
    assert "secret detail" in caplog.text
