"""The OpenAPI document Litestar serves describes every publisher endpoint with its schemas."""

from __future__ import annotations

import httpx

PUBLISHER_OPERATIONS = {
    "/api/activationkey/generate": {"post"},
    "/api/product": {"get", "post"},
    "/api/product/{product_id}": {"get", "put", "patch", "delete"},
    "/api/plan": {"get", "post"},
    "/api/plan/{plan_id}": {"get", "delete"},
    "/api/license": {"get"},
    "/api/license/{activation_key}": {"get", "patch"},
    "/api/license/{activation_key}/history": {"get"},
    "/api/license/{activation_key}/revoke": {"post"},
    "/api/license/{activation_key}/suspend": {"post"},
    "/api/license/{activation_key}/resume": {"post"},
    "/api/license/{activation_key}/extend": {"post"},
    "/api/license/{activation_key}/free-device": {"post"},
    "/api/license/device-history/{hardware_id}": {"get"},
    "/api/license/offline-code": {"post"},
    "/api/license/validate-bulk": {"post"},
    "/api/license/bulk-info": {"post"},
    "/api/license/bulk-by-email": {"post"},
    "/api/license/bulk-by-hardware": {"post"},
}

SCHEMAS = {
    "KeyGenerate",
    "KeyGenerated",
    "ProductCreate",
    "ProductRead",
    "ProductUpdate",
    "PlanUpsert",
    "PlanRead",
    "LicenseRead",
    "LicenseDetailRead",
    "LicensePage",
    "LicenseHistoryRead",
    "DeviceHistoryPage",
    "LicenseExtend",
    "LicenseUpdate",
    "OfflineCodeRead",
    "BulkValidate",
    "BulkValidateRead",
    "BulkInfoRead",
    "BulkByEmailRead",
    "BulkByHardwareRead",
}


async def test_every_publisher_path_is_documented(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")

    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for path, methods in PUBLISHER_OPERATIONS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemas = set(document["components"]["schemas"])
    missing = {name for name in SCHEMAS if not any(s == name or s.endswith(name) for s in schemas)}
    assert not missing, (missing, sorted(schemas))


async def test_wire_names_are_camel_case(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    generated = next(v for k, v in schemas.items() if k.endswith("KeyGenerated"))
    assert {"activationKey", "isCorporate", "maxSeats", "isOffline"} <= set(generated["properties"])
    listing = document["paths"]["/api/license"]["get"]
    assert {"page", "pageSize", "productId", "productName", "email", "status", "q"} <= {
        parameter["name"] for parameter in listing["parameters"]
    }
