"""The access matrix: every API endpoint (taken from the app's route table, so a new endpoint
cannot be left out) × {no token, malformed token, wrong secret, expired token, revoked token,
token without the needed permission, another tenant's token} answers the documented
401/403/404 and never shows another tenant's data. Non-API routes must be public on purpose
(health, OpenAPI) or behind the dashboard login."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import update

from exisone_server.auth import Permission
from exisone_server.auth.permissions import PERMISSION_OPT
from exisone_server.models import AccessToken, License, LicenseStatus

from .helpers import activate_body
from .seeding import Seed

#: Routes outside /api that need no token, by prefix.
PUBLIC_PREFIXES = ("/health", "/schema")
#: The customer portal's routes a visitor without a portal session uses (signing in, asking for
#: the keys by e-mail, the theme and static files); every other portal route needs a customer's
#: session: tests/portal/test_access_matrix.py tries each with none, another customer's and
#: another tenant's.
PORTAL_WITHOUT_SESSION = frozenset(
    f"/portal/{{slug:str}}{tail}" for tail in ("", "/sign-in", "/link", "/keys", "/theme.css")
)
#: API routes that take no token: the payment providers' receivers, whose credential is the
#: provider's signature (every wrong or missing one: 400 invalid_signature).
SIGNED_BY_PROVIDER = frozenset(
    f"/api/{name}/webhook" for name in ("stripe", "paddle", "lemonsqueezy", "paypal")
)
#: Routes outside /api behind the dashboard's own login (session cookie + CSRF).
DASHBOARD_PREFIX = "/dashboard"


@dataclass
class Victim:
    """Tenant A: the data another tenant's token must never reach."""

    key: str
    hardware_id: str
    product_id: int
    product_name: str
    plan_id: int
    email: str
    markers: tuple[str, ...]
    #: A lease of tenant A's floating license.
    lease_id: str = ""


def api_routes(app: Litestar) -> list[tuple[str, str, tuple[Permission, ...]]]:
    """(method, path template, needed permissions) of every /api endpoint."""
    found: list[tuple[str, str, tuple[Permission, ...]]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                needed = tuple(handler.opt.get(PERMISSION_OPT, ()))
                found.append((str(method), route.path, needed))
    return found


def _body(victim: Victim, method: str, path: str) -> Any:
    """A well-formed body naming tenant A's objects (so auth, not parsing, decides)."""
    tag = uuid.uuid4().hex[:8]
    hardware = victim.hardware_id
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/license/activate"): {
            "activationKey": victim.key,
            "hardwareId": "OTHER-DEVICE",
            "productName": victim.product_name,
            "email": "x@example.com",
        },
        ("POST", "/api/license/validate"): {
            "activationKey": victim.key,
            "hardwareId": hardware,
            "productName": victim.product_name,
        },
        ("POST", "/api/license/deactivate"): {"licenseKey": victim.key, "hardwareId": hardware},
        ("POST", "/api/license/features/csv"): {"activationKey": victim.key},
        ("POST", "/api/support/ticket"): {
            "productName": victim.product_name,
            "email": "x@example.com",
            "subject": "s",
            "message": "m",
        },
        ("POST", "/api/product"): {"name": f"matrix-{tag}"},
        ("PUT", "/api/product/{product_id:int}"): {"name": f"hijack-{tag}"},
        ("PATCH", "/api/product/{product_id:int}"): {"isActive": False},
        ("POST", "/api/plan"): {"id": victim.plan_id, "name": f"hijack-{tag}"},
        ("POST", "/api/activationkey/generate"): {
            "productName": victim.product_name,
            "email": "x@example.com",
        },
        ("PATCH", "/api/license/{activation_key:str}"): {"note": "hijack"},
        ("POST", "/api/license/{activation_key:str}/revoke"): {"note": "hijack"},
        ("POST", "/api/license/{activation_key:str}/suspend"): {"note": "hijack"},
        ("POST", "/api/license/{activation_key:str}/resume"): {"note": "hijack"},
        ("POST", "/api/license/{activation_key:str}/extend"): {"days": 10},
        ("POST", "/api/license/{activation_key:str}/free-device"): {"hardwareId": hardware},
        ("POST", "/api/license/offline-code"): {
            "activationKey": victim.key,
            "hardwareId": "OTHER-DEVICE",
        },
        ("POST", "/api/license/validate-bulk"): {
            "licenses": [{"activationKey": victim.key, "hardwareId": hardware}]
        },
        ("POST", "/api/license/bulk-info"): {"activationKeys": [victim.key]},
        ("POST", "/api/license/bulk-by-email"): {"emails": [victim.email]},
        ("POST", "/api/license/bulk-by-hardware"): {"hardwareIds": [hardware]},
        ("POST", "/api/webhook"): {"url": f"https://example.com/{tag}"},
        ("POST", "/api/license/consume"): {"activationKey": victim.key},
        ("POST", "/api/license/lease"): {
            "activationKey": victim.key,
            "hardwareId": "OTHER-DEVICE",
            "productName": victim.product_name,
        },
        ("POST", "/api/license/lease/heartbeat"): {"leaseId": victim.lease_id},
        ("POST", "/api/license/lease/release"): {"leaseId": victim.lease_id},
        ("POST", "/api/license/{activation_key:str}/leases/{lease_id:str}/end"): None,
        ("POST", "/api/license/{activation_key:str}/topup"): {"calls": 10},
        ("POST", "/api/license/validate-encrypted"): {"payload": "c2VhbGVkIGZvciBub2JvZHk="},
        ("POST", "/api/webhook/deliveries/{delivery_id:int}/resend"): None,
        ("POST", "/api/mail/keys"): {"email": victim.email},
        ("POST", "/api/mail/messages/{message_id:int}/resend"): None,
        ("POST", "/api/stripe/checkout/session"): {
            "productId": victim.product_id,
            "successUrl": "https://shop.example/ok",
            "cancelUrl": "https://shop.example/no",
        },
        ("POST", "/api/payments/events/{event_id:int}/replay"): None,
        **{("POST", path): {"id": f"evt_{tag}", "type": "x"} for path in SIGNED_BY_PROVIDER},
    }
    if method in ("GET", "DELETE"):
        return None
    if (method, path) not in bodies:
        pytest.fail(f"add a sample body for {method} {path} to the access matrix")
    return bodies[(method, path)]


def _path(victim: Victim, template: str) -> str:
    values = {
        "{activation_key:str}": victim.key,
        "{hardware_id:str}": victim.hardware_id,
        "{product_id:int}": str(victim.product_id),
        "{plan_id:int}": str(victim.plan_id),
        "{endpoint_id:int}": "1",
        "{delivery_id:int}": "1",
        "{event_id:int}": "1",
        "{message_id:int}": "1",
        "{lease_id:str}": victim.lease_id or "l_none",
    }
    path = template
    for name, value in values.items():
        path = path.replace(name, value)
    assert "{" not in path, f"add a value for the path parameter of {template}"
    return path


async def _victim(seed: Seed) -> Victim:
    tag = uuid.uuid4().hex[:10]
    product = await seed.product(f"Secret-Product-{tag}")
    plan = await seed.plan(f"Secret-Plan-{tag}", features=(f"SecretFeature{tag}",))
    email = f"victim-{tag}@example.com"
    license = await seed.license(product, plan=plan, email=email)
    hardware_id = f"VICTIM-DEVICE-{tag}".upper()
    response = await seed.api.post(
        "/api/license/activate", activate_body(license, product, hardware_id)
    )
    assert response.status_code == 200, response.text
    floating = await seed.license(product, plan=plan, email=email, is_floating=True)
    leased = await seed.api.post(
        "/api/license/lease",
        {
            "activationKey": floating.activation_key,
            "hardwareId": hardware_id,
            "productName": product.name,
        },
    )
    assert leased.status_code == 200, leased.text
    return Victim(
        lease_id=leased.json()["leaseId"],
        key=license.activation_key,
        hardware_id=hardware_id,
        product_id=product.id,
        product_name=product.name,
        plan_id=plan.id,
        email=email,
        markers=(
            license.activation_key,
            email,
            f"SecretFeature{tag}",
            plan.name,
            product.name,
            hardware_id,
        ),
    )


def _lacking(needed: tuple[Permission, ...]) -> tuple[Permission, ...]:
    """Every permission that does not grant any of ``needed``."""
    return tuple(p for p in Permission if p is not Permission.ADMIN and p not in needed)


async def _send(
    client: httpx.AsyncClient, method: str, path: str, body: Any, authorization: str | None
) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    if body is None:
        return await client.request(method, path, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


def _expect(response: httpx.Response, status: int, code: str, case: str) -> None:
    assert (response.status_code, _code(response)) == (status, code), (case, response.text)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "ExisOneApi", case


def _code(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("error"))
    except (ValueError, AttributeError):
        return None


async def test_every_endpoint_refuses_every_wrong_token(seed: Seed, app: Litestar) -> None:
    victim = await _victim(seed)
    owner = seed.tenant.id
    expired = await seed.token(Permission.ADMIN, expires_in=timedelta(seconds=-1))
    revoked = await seed.token(Permission.ADMIN)
    async with seed.database.write() as session:
        await session.execute(
            update(AccessToken)
            .where(AccessToken.public_id == revoked.split("_")[2])
            .values(revoked=True)
        )
    public_id = seed.api.token.split("_")[2]
    cases = {
        "no token": (None, 401, "missing_token"),
        "malformed token": ("ExisOneApi not-a-token", 401, "invalid_token"),
        "wrong scheme": (f"Bearer {seed.api.token}", 401, "invalid_token"),
        "wrong secret": (f"ExisOneApi exo_at_{public_id}_{'A' * 43}", 401, "invalid_token"),
        "unknown id": (f"ExisOneApi exo_at_{'z' * 16}_{'A' * 43}", 401, "invalid_token"),
        "expired token": (f"ExisOneApi {expired}", 401, "token_expired"),
        "revoked token": (f"ExisOneApi {revoked}", 401, "token_revoked"),
    }
    routes = [r for r in api_routes(app) if r[1].startswith("/api")]
    assert len(routes) >= 35, routes
    for method, template, needed in routes:
        path = _path(victim, template)
        body = _body(victim, method, template)
        if template in SIGNED_BY_PROVIDER:  # no token counts, any token is ignored
            assert not needed, template
            for case, (authorization, _, _) in cases.items():
                response = await _send(seed.client, method, path, body, authorization)
                _expect(response, 400, "invalid_signature", f"{method} {template}: {case}")
            continue
        for case, (authorization, status, code) in cases.items():
            response = await _send(seed.client, method, path, body, authorization)
            _expect(response, status, code, f"{method} {template}: {case}")
        if needed:
            weak = await seed.token(*_lacking(needed))
            response = await _send(seed.client, method, path, body, f"ExisOneApi {weak}")
            _expect(response, 403, "permission_denied", f"{method} {template}: lacking {needed}")
    assert seed.tenant.id == owner


async def test_another_tenants_token_never_reaches_a_tenants_data(
    seed: Seed, app: Litestar
) -> None:
    victim = await _victim(seed)
    intruder = await Seed.create(seed.database, seed.master_key, seed.client)
    authorization = f"ExisOneApi {intruder.api.token}"
    for method, template, _ in api_routes(app):
        if not template.startswith("/api"):
            continue
        path = _path(victim, template)
        body = _body(victim, method, template)
        response = await _send(seed.client, method, path, body, authorization)
        case = f"{method} {template}"
        assert response.status_code < 500, (case, response.text)
        sent = f"{path} {body}"
        leaked = [
            marker for marker in victim.markers if marker in response.text and marker not in sent
        ]
        assert not leaked, (case, leaked, response.text)
        owned = ("{activation_key:str}", "{product_id:int}", "{plan_id:int}")
        if any(name in template for name in owned) and response.status_code != 404:
            pytest.fail(
                f"{case}: another tenant's object answered {response.status_code}: {response.text}"
            )
        if template == "/api/license/validate":
            assert response.json()["reason"] == "license_not_found"
    # and nothing of tenant A changed
    async with seed.database.read_session() as session:
        license = await session.get(License, await _license_id(seed, victim.key))
        assert (
            license is not None and license.status is LicenseStatus.ACTIVE and license.note is None
        )
    usage = await seed.api.post(
        "/api/license/validate", {"activationKey": victim.key, "hardwareId": victim.hardware_id}
    )
    assert usage.json()["status"] == "licensed", usage.text
    product = await seed.api.get(f"/api/product/{victim.product_id}")
    assert product.json()["name"] == victim.product_name and product.json()["isActive"] is True


async def _license_id(seed: Seed, key: str) -> int:
    from sqlalchemy import select

    async with seed.database.read() as connection:
        found = await connection.scalar(select(License.id).where(License.activation_key == key))
    assert found is not None
    return int(found)


async def test_routes_outside_the_api_are_public_on_purpose_or_behind_the_login(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    for method, template, needed in api_routes(app):
        if template.startswith("/api"):
            continue
        assert not needed, template
        if template.startswith(PUBLIC_PREFIXES) or template == "/":
            continue
        if template.startswith("/portal/"):
            if template in PORTAL_WITHOUT_SESSION or template.startswith("/portal/static/"):
                continue
            assert template.startswith("/portal/{slug:str}/licenses") or template in (
                "/portal/{slug:str}/sign-out",
                "/portal/{slug:str}/sign-out-everywhere",
            ), f"{template}: a new portal route; add it to the portal's access matrix"
            continue
        assert template.startswith(DASHBOARD_PREFIX), (
            f"{template} is neither API, public nor dashboard"
        )
        if template in ("/dashboard/login",) or template.startswith("/dashboard/static"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        response = await client.request(method, path, follow_redirects=False)
        assert response.status_code in (302, 303, 401, 403), (
            method,
            template,
            response.status_code,
        )
        if response.status_code in (302, 303):
            assert response.headers["location"].startswith("/dashboard/login"), template
