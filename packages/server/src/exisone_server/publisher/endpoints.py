"""The publisher's license endpoints (docs/api.md): parse, call the service, answer the schema.

Permissions: ``generate`` for generating keys and offline codes and for every read
(the token ExisOne's MCP server uses holds ``generate`` + ``verify``); ``admin`` for changes.
``admin`` implies every permission.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import Permission, requires
from ..deps import ClientIpDep, DatabaseDep, MasterKeyDep, PrincipalDep
from ..kit.time import format_expiration, utc_now
from ..licenses.rules import seat_limit
from ..licenses.service import get_license, license_feature_names
from ..models import License
from ..security.lookups import looks_up
from . import service
from .queries import (
    LicenseFilters,
    PageRequest,
    device_history,
    license_detail,
    license_history,
    list_licenses,
)
from .schemas import (
    DeviceHistoryPage,
    KeyGenerate,
    KeyGenerated,
    LicenseDetailRead,
    LicenseDeviceFree,
    LicenseExtend,
    LicenseHistoryRead,
    LicensePage,
    LicenseRead,
    LicenseStatusChange,
    LicenseUpdate,
    OfflineCodeGenerate,
    OfflineCodeRead,
)

__all__ = ["router"]

#: ``pageSize`` of a paged license listing when only ``page`` is given.
DEFAULT_PAGE_SIZE = 50

_READ = requires(Permission.GENERATE)
_WRITE = requires(Permission.ADMIN)
_GENERATE = requires(Permission.GENERATE)
#: The routes that look a license up by its key (or a device by its ID): failed lookups count.
_READ_BY_KEY = {**_READ, **looks_up()}
_WRITE_BY_KEY = {**_WRITE, **looks_up(writes=True)}
_GENERATE_BY_KEY = {**_GENERATE, **looks_up(writes=True)}


async def _read(session: AsyncSession, tenant_id: int, license: License) -> LicenseDetailRead:
    """The answer of every license action: the license as it is now, with its activations."""
    features = await license_feature_names(session, license.id)
    return await license_detail(session, tenant_id, license.id, features, utc_now())


@post("/activationkey/generate", status_code=200, opt=_GENERATE)
async def generate_key(
    data: JSONBody[KeyGenerate], principal: PrincipalDep, database: DatabaseDep
) -> KeyGenerated:
    """Create a license: ``{activationKey, isCorporate, maxSeats, isOffline}``."""
    async with database.write() as session:
        license = await service.generate_license(
            session,
            principal.tenant_id,
            product_name=data.product_name,
            email=data.email,
            plan_id=data.plan_id,
            validity_days=data.validity_days,
            access_token_id=principal.token_id,
        )
        features = await license_feature_names(session, license.id)
    return KeyGenerated(
        activation_key=license.activation_key,
        is_corporate=license.is_corporate,
        is_offline=license.is_offline,
        expiration_date=format_expiration(license.expires_at),
        product_name=data.product_name.strip(),
        email=license.email,
        features=features,
        max_seats=seat_limit(license.is_corporate, license.max_seats)
        if license.is_corporate
        else None,
        plan_id=license.plan_id,
    )


@get("/license", opt=_READ)
async def list_all_licenses(
    principal: PrincipalDep,
    database: DatabaseDep,
    page: Annotated[int | None, QueryParameter(name="page")] = None,
    page_size: Annotated[int | None, QueryParameter(name="pageSize")] = None,
    product_id: Annotated[int | None, QueryParameter(name="productId")] = None,
    product_name: Annotated[str | None, QueryParameter(name="productName")] = None,
    email: Annotated[str | None, QueryParameter(name="email")] = None,
    status: Annotated[str | None, QueryParameter(name="status")] = None,
    hardware_id: Annotated[str | None, QueryParameter(name="hardwareId")] = None,
    q: Annotated[str | None, QueryParameter(name="q")] = None,
) -> list[LicenseRead] | LicensePage:
    """The tenant's licenses, newest first: a plain array, or a page when page/pageSize is given.

    Filters (combined with AND): productId (exact), productName / email / q (case-insensitive
    substring; q searches key, email, note, corporate name and product name), status
    (active | expired | suspended | revoked), hardwareId (devices holding a seat).
    """
    filters = LicenseFilters(product_id, product_name, email, status, hardware_id, q)
    paging = None
    if page is not None or page_size is not None:
        paging = PageRequest(
            1 if page is None else page, DEFAULT_PAGE_SIZE if page_size is None else page_size
        )
    async with database.read_session() as session:
        return await list_licenses(session, principal.tenant_id, filters, paging, utc_now())


@get("/license/device-history/{hardware_id:str}", opt=_READ_BY_KEY)
async def read_device_history(
    hardware_id: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
    page: Annotated[int, QueryParameter(name="page")] = 1,
    page_size: Annotated[int, QueryParameter(name="pageSize")] = 10,
) -> DeviceHistoryPage:
    """License events about one device (case-insensitive ID) across the tenant, newest first."""
    paging = PageRequest(page, page_size)
    async with database.read_session() as session:
        return await device_history(session, principal.tenant_id, hardware_id, paging)


@get("/license/{activation_key:str}", opt=_READ_BY_KEY)
async def read_license(
    activation_key: FromPath[str], principal: PrincipalDep, database: DatabaseDep
) -> LicenseDetailRead:
    """One license with its features and activations; 404 ``license_not_found``."""
    async with database.read_session() as session:
        license = await get_license(session, principal.tenant_id, activation_key)
        return await _read(session, principal.tenant_id, license)


@get("/license/{activation_key:str}/history", opt=_READ_BY_KEY)
async def read_license_history(
    activation_key: FromPath[str], principal: PrincipalDep, database: DatabaseDep
) -> list[LicenseHistoryRead]:
    """The license's events (``LicenseHistory[]``), newest first."""
    async with database.read_session() as session:
        license = await get_license(session, principal.tenant_id, activation_key)
        return await license_history(session, license.id)


@patch("/license/{activation_key:str}", opt=_WRITE_BY_KEY)
async def update_license(
    activation_key: FromPath[str],
    data: JSONBody[LicenseUpdate],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> LicenseDetailRead:
    """Change email, note, version or corporateName (fields sent only)."""
    async with database.write() as session:
        license = await service.update_license(
            session, principal.tenant_id, activation_key, data, access_token_id=principal.token_id
        )
        return await _read(session, principal.tenant_id, license)


async def _status_action(
    action: str,
    activation_key: str,
    data: LicenseStatusChange | None,
    principal: PrincipalDep,
    database: DatabaseDep,
) -> LicenseDetailRead:
    async with database.write() as session:
        license = await service.change_status(
            session,
            principal.tenant_id,
            activation_key,
            action,
            note=data.note if data is not None else None,
            access_token_id=principal.token_id,
        )
        return await _read(session, principal.tenant_id, license)


@post("/license/{activation_key:str}/revoke", status_code=200, opt=_WRITE_BY_KEY)
async def revoke_license(
    activation_key: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
    data: JSONBody[LicenseStatusChange | None] = None,
) -> LicenseDetailRead:
    """Block the license for good (from active or suspended)."""
    return await _status_action("revoke", activation_key, data, principal, database)


@post("/license/{activation_key:str}/suspend", status_code=200, opt=_WRITE_BY_KEY)
async def suspend_license(
    activation_key: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
    data: JSONBody[LicenseStatusChange | None] = None,
) -> LicenseDetailRead:
    """Block the license until it is resumed (from active)."""
    return await _status_action("suspend", activation_key, data, principal, database)


@post("/license/{activation_key:str}/resume", status_code=200, opt=_WRITE_BY_KEY)
async def resume_license(
    activation_key: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
    data: JSONBody[LicenseStatusChange | None] = None,
) -> LicenseDetailRead:
    """Unblock a suspended license."""
    return await _status_action("resume", activation_key, data, principal, database)


@post("/license/{activation_key:str}/extend", status_code=200, opt=_WRITE_BY_KEY)
async def extend_license(
    activation_key: FromPath[str],
    data: JSONBody[LicenseExtend],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> LicenseDetailRead:
    """New expiration: ``expirationDate``, ``days`` more, or ``perpetual: true``."""
    async with database.write() as session:
        license = await service.extend_license(
            session, principal.tenant_id, activation_key, data, access_token_id=principal.token_id
        )
        return await _read(session, principal.tenant_id, license)


@post("/license/{activation_key:str}/free-device", status_code=200, opt=_WRITE_BY_KEY)
async def free_device(
    activation_key: FromPath[str],
    data: JSONBody[LicenseDeviceFree],
    principal: PrincipalDep,
    database: DatabaseDep,
    client_ip: ClientIpDep,
) -> LicenseDetailRead:
    """Release the seat one device holds (the publisher's deactivate)."""
    async with database.write() as session:
        license = await service.free_device(
            session,
            principal.tenant_id,
            activation_key,
            data.hardware_id,
            ip_address=client_ip,
            access_token_id=principal.token_id,
        )
        return await _read(session, principal.tenant_id, license)


@post("/license/offline-code", status_code=200, opt=_GENERATE_BY_KEY)
async def generate_offline_code(
    data: JSONBody[OfflineCodeGenerate],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
    client_ip: ClientIpDep,
) -> OfflineCodeRead:
    """Sign an offline activation code for a device; it takes the device's seat."""
    async with database.write() as session:
        license, outcome = await service.issue_offline_code(
            session,
            principal.tenant_id,
            data.activation_key,
            data.hardware_id,
            master_key,
            ip_address=client_ip,
            access_token_id=principal.token_id,
        )
    payload = outcome.payload
    return OfflineCodeRead(
        offline_code=outcome.code,
        activation_key=license.activation_key,
        hardware_id=str(payload["hardwareId"]),
        expiration_date=str(payload["expirationDate"]),
        product_id=int(payload["productId"]),
        product_name=str(payload["productName"]),
        email=license.email,
        features=[str(feature) for feature in payload["features"]],
        seat_taken=outcome.seat_taken,
        current_seats=outcome.current_seats,
    )


router = Router(
    path="/api",
    route_handlers=[
        generate_key,
        list_all_licenses,
        read_device_history,
        read_license,
        read_license_history,
        update_license,
        revoke_license,
        suspend_license,
        resume_license,
        extend_license,
        free_device,
        generate_offline_code,
    ],
    tags=["publisher"],
)
