"""The lease token: a floating seat's proof, signed by the tenant's key, checkable offline.

Layout::

    exo_lt.<payload>.<signature>

``payload`` is the base64url (no padding) of compact UTF-8 JSON with these keys, in this order:
``v`` (1), ``kid`` (the signing key's :func:`~exisone.protocol.key_id`), ``leaseId``,
``tenantId``, ``activationKey``, ``hardwareId``, ``productName``, ``features``, ``issuedAt``,
``expiresAt`` (protocol dates) and ``borrowed`` (true for a seat checked out for offline use).
``signature`` is the base64url (no padding) of the signature over the ASCII bytes
``exo_lt.<payload>``, made with the key that ``kid`` names: with an RSA key, PKCS#1 v1.5 with
SHA-256 (as many bytes as the modulus); with an Ed25519 key, Ed25519 (RFC 8032, 64 bytes).
The verifier checks the signature before it parses the payload. Whether a verified token still
holds (its expiry, this machine, this product) is the caller's rule, not the format's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ._answer_signature import key_id as _key_id
from ._dates import format_datetime, parse_datetime
from ._exceptions import InvalidLeaseToken

__all__ = [
    "LEASE_TOKEN_PREFIX",
    "LEASE_TOKEN_VERSION",
    "LeasePrivateKey",
    "LeasePublicKey",
    "VerifiedLease",
    "issue_lease_token",
    "verify_lease_token",
]

LEASE_TOKEN_PREFIX = "exo_lt."
LEASE_TOKEN_VERSION = 1
#: A token longer than this is refused before any decoding (a payload is a few hundred bytes).
_MAX_TOKEN_CHARS = 16_384

_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_ED25519_SIGNATURE_BYTES = 64

#: A key that signs lease tokens, and one that checks them: RSA or Ed25519.
LeasePrivateKey = Union[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]
LeasePublicKey = Union[rsa.RSAPublicKey, ed25519.Ed25519PublicKey]


class VerifiedLease(NamedTuple):
    """A lease token whose signature checked, its fields read."""

    lease_id: str
    tenant_id: int
    activation_key: str
    hardware_id: str
    product_name: str
    features: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    borrowed: bool
    key_id: str
    #: The position, among the trusted keys given, of the key that signed it.
    key_index: int

    def is_expired(self, now: datetime) -> bool:
        """True once ``now`` (aware) has reached the token's expiry."""
        return now >= self.expires_at


def issue_lease_token(
    *,
    lease_id: str,
    tenant_id: int,
    activation_key: str,
    hardware_id: str,
    product_name: str,
    features: Sequence[str],
    issued_at: datetime,
    expires_at: datetime,
    borrowed: bool,
    private_key: LeasePrivateKey,
    key_id: str | None = None,
) -> str:
    """Sign a lease with the tenant's private key (RSA or Ed25519) and return its token.

    ``key_id`` is the key's :func:`~exisone.protocol.key_id` when the caller has it already
    (a server signing many tokens): it is worked out from the key otherwise."""
    payload = {
        "v": LEASE_TOKEN_VERSION,
        "kid": key_id or _key_id(private_key.public_key()),
        "leaseId": lease_id,
        "tenantId": tenant_id,
        "activationKey": activation_key,
        "hardwareId": hardware_id,
        "productName": product_name,
        "features": list(features),
        "issuedAt": format_datetime(issued_at),
        "expiresAt": format_datetime(expires_at),
        "borrowed": borrowed,
    }
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signed = LEASE_TOKEN_PREFIX + _b64encode(body)
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        signature = private_key.sign(signed.encode("ascii"))
    else:
        signature = private_key.sign(signed.encode("ascii"), _PKCS1V15, _SHA256)
    return f"{signed}.{_b64encode(signature)}"


def verify_lease_token(token: str, public_keys: Sequence[LeasePublicKey]) -> VerifiedLease:
    """Check ``token``'s signature against each trusted key (RSA or Ed25519), then read its
    fields.

    Raises :class:`~exisone.protocol.InvalidLeaseToken` for every failure: not a lease token,
    a signature no trusted key made, a payload without the format's fields.
    """
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidLeaseToken("Not a lease token")
    token = token.strip()
    if not token.startswith(LEASE_TOKEN_PREFIX) or token.count(".") != 2:
        raise InvalidLeaseToken("Not a lease token (it should start with 'exo_lt.')")
    signed, _, encoded_signature = token.rpartition(".")
    try:
        signed_bytes = signed.encode("ascii")
        signature = _b64decode(encoded_signature)
    except (UnicodeEncodeError, ValueError) as exc:
        raise InvalidLeaseToken("Lease token is damaged (was it cut off when copied?)") from exc
    for index, key in enumerate(public_keys):
        if _signed_by(key, signature, signed_bytes):
            return _read_payload(signed[len(LEASE_TOKEN_PREFIX) :], index)
    raise InvalidLeaseToken("Invalid or tampered lease token")


def _signed_by(key: LeasePublicKey, signature: bytes, signed: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != _ED25519_SIGNATURE_BYTES:
                return False
            key.verify(signature, signed)
        else:
            if len(signature) != (key.key_size + 7) // 8:
                return False
            key.verify(signature, signed, _PKCS1V15, _SHA256)
    except InvalidSignature:
        return False
    return True


def _read_payload(encoded: str, key_index: int) -> VerifiedLease:
    try:
        payload = json.loads(_b64decode(encoded).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidLeaseToken("Lease token payload is not JSON") from exc
    if not isinstance(payload, Mapping) or payload.get("v") != LEASE_TOKEN_VERSION:
        raise InvalidLeaseToken("Lease token has an unknown version")
    try:
        features = payload["features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise TypeError("features")
        return VerifiedLease(
            lease_id=_text(payload, "leaseId"),
            tenant_id=_integer(payload, "tenantId"),
            activation_key=_text(payload, "activationKey"),
            hardware_id=_text(payload, "hardwareId"),
            product_name=_text(payload, "productName"),
            features=tuple(features),
            issued_at=parse_datetime(_text(payload, "issuedAt")),
            expires_at=parse_datetime(_text(payload, "expiresAt")),
            borrowed=payload["borrowed"] is True,
            key_id=_text(payload, "kid"),
            key_index=key_index,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidLeaseToken(f"Lease token payload is incomplete ({exc})") from exc


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise TypeError(name)
    return value


def _integer(payload: Mapping[str, Any], name: str) -> int:
    value = payload[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(name)
    return value


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
