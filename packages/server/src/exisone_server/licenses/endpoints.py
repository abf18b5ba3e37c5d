"""The client-facing license endpoints: activate, validate, deactivate, features, seat usage.

``POST /api/license/validate`` and ``POST /api/license/activate`` are answered by the seam
ahead of the framework (:mod:`..seam`; validate's handler is in :mod:`.validate_seam`,
activate's is :data:`ACTIVATE_ROUTE`); their handlers here answer what the seam leaves to the
framework (a body that does not decode) and are the routes the OpenAPI document describes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody

from ..auth import Permission, requires
from ..auth.dependencies import check_route_access
from ..auth.permissions import PERMISSION_OPT
from ..auth.principal import Principal
from ..db import Database
from ..deps import ClientIpDep, DatabaseDep, PrincipalDep
from ..errors import Conflict, NotFound
from ..kit.time import format_expiration
from ..models import Product
from ..seam import HotRoute, for_caller
from ..security.lookups import looks_up
from . import rules
from .binding import activate_device
from .schemas import (
    LicenseActivate,
    LicenseActivated,
    LicenseDeactivate,
    LicenseDeactivated,
    LicenseFeaturesCsv,
    LicenseFeaturesCsvRead,
    LicenseValidate,
    LicenseValidation,
    SeatUsageRead,
)
from .service import (
    check_hardware_id,
    count_active_seats,
    deactivate_device,
    get_license,
    license_feature_names,
    resolve_activation_key,
    seat_limit,
)
from .validate import answer_validation

__all__ = [
    "ACTIVATE_PATH",
    "ACTIVATE_ROUTE",
    "VALIDATE_PATH",
    "activate",
    "router",
    "validate_license",
]


_PREFIX = "/api"
_VALIDATE_ROUTE = "/license/validate"
_ACTIVATE_ROUTE = "/license/activate"
#: The validate and activate endpoints' paths (the app's seam receives them ahead of the
#: framework).
VALIDATE_PATH = _PREFIX + _VALIDATE_ROUTE
ACTIVATE_PATH = _PREFIX + _ACTIVATE_ROUTE


async def activate(
    database: Database, principal: Principal, data: LicenseActivate, ip: str | None
) -> LicenseActivated:
    """Bind a device to a license for ``principal``: the route's and the seam's handler."""
    async with database.write() as session:
        outcome = await activate_device(
            session,
            tenant_id=principal.tenant_id,
            activation_key=data.activation_key,
            hardware_id=data.hardware_id,
            product_name=data.product_name,
            email=data.email,
            client_version=data.version,
            ip_address=ip,
            access_token_id=principal.token_id,
        )
        features = await license_feature_names(session, outcome.license.id)
    license, product = outcome.license, outcome.product
    return LicenseActivated(
        success=True,
        message="Already activated on this device." if not outcome.created else "Activated.",
        activation_key=license.activation_key,
        hardware_id=outcome.hardware_id,
        product_name=product.name,
        expiration_date=format_expiration(license.expires_at),
        features=features,
        is_corporate=license.is_corporate,
        current_seats=outcome.current_seats,
        max_seats=license.seat_limit if license.is_corporate else None,
        already_activated=not outcome.created,
        server_version=product.version,
        minimum_required_version=product.minimum_required_version,
    )


@post(_ACTIVATE_ROUTE, status_code=200, opt=looks_up(writes=True))
async def activate_license(
    data: JSONBody[LicenseActivate],
    principal: PrincipalDep,
    database: DatabaseDep,
    client_ip: ClientIpDep,
) -> LicenseActivated:
    """Bind a device to a license (any valid token). Errors: see docs/errors.md."""
    return await activate(database, principal, data, client_ip)


#: ``POST /api/license/activate`` in the seam (:mod:`..seam`): the same handler as the route.
ACTIVATE_ROUTE = HotRoute(
    decode=msgspec.json.Decoder(LicenseActivate).decode,
    handle=for_caller(activate),
    permissions=tuple(activate_license.opt.get(PERMISSION_OPT, ())),
    writes=True,
)


@post(_VALIDATE_ROUTE, status_code=200, opt={**requires(Permission.VERIFY), **looks_up()})
async def validate_license(
    data: JSONBody[LicenseValidate], request: Request[Any, Any, Any], database: DatabaseDep
) -> LicenseValidation:
    """Check a key (or trial, or offline code) for a device: always 200 with isValid/status."""
    # The principal is made by validate_with_token (token and key read together), with the
    # route's permission check, not by Litestar's DI: the same work as the seam's.
    _, answer = await answer_validation(
        database,
        request.headers.get("authorization"),
        lambda principal: check_route_access(request, principal),
        data,
        request.client.host if request.client else None,
    )
    return answer


@post("/license/deactivate", status_code=200, opt=looks_up(writes=True))
async def deactivate_license(
    data: JSONBody[LicenseDeactivate],
    principal: PrincipalDep,
    database: DatabaseDep,
    client_ip: ClientIpDep,
) -> LicenseDeactivated:
    """Free the device's seat (``licenseKey`` or ``activationKey``); repeating it is a success."""
    key = (data.license_key or data.activation_key or "").strip()
    check_hardware_id(data.hardware_id)
    if not key:
        raise NotFound("license_not_found", "Send licenseKey (or activationKey).")
    async with database.write() as session:  # one transaction: seat freed + history, or neither
        key = await resolve_activation_key(session, principal.tenant_id, key)
        license = await get_license(session, principal.tenant_id, key, lock=True)
        if data.product_name and data.product_name.strip():  # blank: any product
            product = await session.get(Product, license.product_id)
            assert product is not None  # foreign key
            if not rules.product_named(data.product_name, product.name):
                raise Conflict(
                    rules.Reason.PRODUCT_MISMATCH,
                    "This activation key belongs to another product.",
                )
        outcome = await deactivate_device(
            session,
            license,
            data.hardware_id,
            by=rules.Releaser.APPLICATION,
            ip_address=client_ip,
            access_token_id=principal.token_id,
        )
    return LicenseDeactivated(
        success=True,
        message="Deactivated." if outcome.was_active else "This device was not activated.",
        was_active=outcome.was_active,
        current_seats=outcome.current_seats,
    )


@post("/license/features/csv", status_code=200, opt=looks_up())
async def license_features_csv(
    data: JSONBody[LicenseFeaturesCsv], principal: PrincipalDep, database: DatabaseDep
) -> LicenseFeaturesCsvRead:
    """The license's features as one comma-separated string (any valid token)."""
    async with database.read_session() as session:
        key = await resolve_activation_key(
            session, principal.tenant_id, data.activation_key.strip()
        )
        license = await get_license(session, principal.tenant_id, key)
        features = await license_feature_names(session, license.id)
    return LicenseFeaturesCsvRead(features=",".join(features))


@get("/license/{activation_key:str}/usage", opt=looks_up())
async def seat_usage(
    activation_key: FromPath[str], principal: PrincipalDep, database: DatabaseDep
) -> SeatUsageRead:
    """Seats of a corporate license (any valid token); 404 ``not_corporate`` otherwise."""
    async with database.read_session() as session:
        license = await get_license(session, principal.tenant_id, activation_key)
        if not license.is_corporate:
            raise NotFound("not_corporate", "This is not a corporate (multi-seat) license.")
        seats = await count_active_seats(session, license.id)
    limit = seat_limit(license)
    return SeatUsageRead(
        current_seats=seats,
        max_seats=limit,
        has_capacity=limit is None or seats < limit,
        is_unlimited=limit is None,
    )


router = Router(
    path=_PREFIX,
    route_handlers=[
        activate_license,
        validate_license,
        deactivate_license,
        license_features_csv,
        seat_usage,
    ],
    tags=["client"],
)
