"""Helpers for the publisher API tests: any HTTP method with a token, and common set-ups."""

from __future__ import annotations

from typing import Any

import httpx

from exisone_server.auth import Permission

from .seeding import Seed


async def call(
    seed: Seed, method: str, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any
) -> httpx.Response:
    """``method path`` with ``token`` (default: the seed's all-permission token)."""
    headers = {"Authorization": f"ExisOneApi {token or seed.api.token}"}
    if body is not None:
        kwargs["json"] = body
    return await seed.client.request(method, path, headers=headers, **kwargs)


async def other_tenant(seed: Seed) -> Seed:
    """A second, unrelated tenant on the same app (for isolation tests)."""
    return await Seed.create(seed.database, seed.master_key, seed.client)


async def generate(seed: Seed, product_name: str = "MyProduct", **body: Any) -> dict[str, Any]:
    """POST /api/activationkey/generate, asserted 200; the JSON answer."""
    response = await seed.api.post(
        "/api/activationkey/generate",
        {"productName": product_name, "email": "user@example.com", **body},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def validate_status(seed: Seed, key: str, hardware_id: str = "HW-1") -> str:
    """The ``status`` /api/license/validate answers for ``key`` on ``hardware_id``."""
    response = await seed.api.post(
        "/api/license/validate", {"activationKey": key, "hardwareId": hardware_id}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def activate(
    seed: Seed, key: str, hardware_id: str = "HW-1", product_name: str = "MyProduct"
) -> httpx.Response:
    return await seed.api.post(
        "/api/license/activate",
        {
            "activationKey": key,
            "hardwareId": hardware_id,
            "productName": product_name,
            "email": "user@example.com",
        },
    )


async def token_without(seed: Seed, *permissions: Permission) -> str:
    """A token of the seed's tenant holding every non-admin permission except ``permissions``."""
    held = [
        p
        for p in (Permission.VERIFY, Permission.GENERATE, Permission.EMAIL)
        if p not in permissions
    ]
    return await seed.token(*held)
