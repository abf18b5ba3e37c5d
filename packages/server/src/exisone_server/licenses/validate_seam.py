"""Validate's place in the seam (:mod:`..seam`): its body decoder and its handler."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from ..auth.permissions import Permission
from ..auth.principal import Principal
from ..db import Database
from ..seam import HotRoute
from .schemas import LicenseValidate, LicenseValidation
from .validate import answer_validation

__all__ = ["validate_route"]


async def _validate(
    database: Database,
    authorization: str | None,
    check: Callable[[Principal], None],
    request: LicenseValidate,
    ip: str | None,
) -> LicenseValidation:
    _, validation = await answer_validation(database, authorization, check, request, ip)
    return validation


def validate_route(permissions: tuple[Permission, ...]) -> HotRoute:
    """``POST /api/license/validate`` with the framework route's ``permissions``."""
    return HotRoute(
        decode=msgspec.json.Decoder(LicenseValidate).decode,
        handle=_validate,
        permissions=permissions,
        writes=False,
        outcome=lambda validation: str(validation.reason),
    )
