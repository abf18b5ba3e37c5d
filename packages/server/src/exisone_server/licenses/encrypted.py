"""POST /api/license/validate-encrypted: a validate request sealed with the tenant's public key
(docs/encrypted-validation.md; the format is :mod:`exisone._sealed`).

The token is checked first (401/403 as for validate), then the payload is opened with the
tenant's private keys (decrypted once per process, :mod:`..crypto.key_cache`), then the same
validation as ``POST /api/license/validate`` answers it (:func:`.validate.answer_validation`:
its rules, webhook and counts). The answer is sealed with the request's key when it gave one.

Every failure to open a payload is the same 400 ``invalid_payload``, whatever step failed (no
padding or tag oracle); what a payload that opened says is checked like validate's body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Request, Router, post
from litestar.params import JSONBody
from sqlalchemy import select

from exisone.protocol import (
    SEALED_KEY_BYTES,
    SealedPayloadError,
    open_request,
    seal_answer,
)

from ..auth import Permission, requires
from ..auth.dependencies import check_route_access
from ..crypto.key_cache import cached_signing_key
from ..crypto.master_key import MasterKey
from ..crypto.service import keys_of
from ..db import Database
from ..deps import ClientIpDep, DatabaseDep, MasterKeyDep, PrincipalDep
from ..errors import BadRequest, NotFound
from ..kit.wire import WireRequest, WireResponse
from ..models import CryptoKey, KeyAlgorithm
from ..security.lookups import looks_up
from .schemas import LicenseValidate, LicenseValidation
from .validate import answer_validation

__all__ = ["EncryptedValidate", "SealedValidation", "router"]


class EncryptedValidate(WireRequest):
    #: Base64 of the sealed request (RSA-only or envelope v1).
    payload: str


class SealedValidation(WireResponse):
    #: Base64 of the sealed answer: nonce (12 bytes), then AES-256-GCM ciphertext and tag.
    payload: str


class _OpenedValidate(LicenseValidate):
    """What a payload holds: validate's body, plus the answer's key of an RSA-only request."""

    response_key: str | None = None


_decode = msgspec.json.Decoder(_OpenedValidate).decode
_encode = msgspec.json.Encoder().encode


class InvalidPayload(BadRequest):
    """400 ``invalid_payload``: the one answer to every payload that does not open."""

    def __init__(self) -> None:
        super().__init__("invalid_payload", "The payload could not be decrypted.")


class _TenantKeys:
    """The tenant's private keys: the current one, and each by its envelope key id."""

    def __init__(self, rows: list[CryptoKey], master_key: MasterKey) -> None:
        current = next((row for row in rows if row.is_current), None)
        if current is None:
            raise NotFound("crypto_key_not_found", "This tenant has no crypto key yet.")
        self.current = cached_signing_key(current, master_key)
        self._rows = {bytes.fromhex(row.fingerprint)[:8]: row for row in rows}
        self._master_key = master_key

    def named(self, key_id: bytes) -> rsa.RSAPrivateKey | None:
        row = self._rows.get(key_id)
        return cached_signing_key(row, self._master_key) if row is not None else None


async def _tenant_keys(database: Database, tenant_id: int, master_key: MasterKey) -> _TenantKeys:
    async with database.read_session() as session:
        rows = await session.scalars(select(CryptoKey).where(keys_of(tenant_id, KeyAlgorithm.RSA)))
        return _TenantKeys(list(rows), master_key)


def _opened_body(plaintext: bytes) -> _OpenedValidate:
    try:
        return _decode(plaintext)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError) as exc:
        raise BadRequest(
            "invalid_request", f"Invalid request: the decrypted payload is not validate's: {exc}"
        ) from None


def _response_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != SEALED_KEY_BYTES:
        raise BadRequest(
            "invalid_request", "Invalid request: responseKey must be base64 of 32 bytes."
        )
    return key


@post(
    "/license/validate-encrypted",
    status_code=200,
    opt={**requires(Permission.VERIFY), **looks_up()},
)
async def validate_encrypted(
    data: JSONBody[EncryptedValidate],
    request: Request[Any, Any, Any],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
    client_ip: ClientIpDep,
) -> SealedValidation | LicenseValidation:
    """Validate a sealed request; the answer is sealed when the request gave a key (an
    envelope always does), else it is validate's plain answer."""
    try:
        payload = base64.b64decode(data.payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPayload() from None
    keys = await _tenant_keys(database, principal.tenant_id, master_key)
    try:
        opened = open_request(payload, keys.current, keys.named)
    except SealedPayloadError:
        raise InvalidPayload() from None
    body = _opened_body(opened.plaintext)
    answer_key = opened.key
    if answer_key is None and body.response_key is not None:
        answer_key = _response_key(body.response_key)
    _, answer = await answer_validation(
        database,
        request.headers.get("authorization"),
        lambda caller: check_route_access(request, caller),
        body,
        client_ip,
    )
    if answer_key is None:
        return answer
    sealed = seal_answer(answer_key, payload, _encode(answer))
    return SealedValidation(payload=base64.b64encode(sealed).decode("ascii"))


router = Router(path="/api", route_handlers=[validate_encrypted], tags=["client"])
