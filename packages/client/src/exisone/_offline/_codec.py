"""The offline activation code: one codec for the client (verify) and the server (issue).

Layout of the decoded bytes (docs/protocol.md)::

    2 bytes   payload length P, unsigned little-endian
    P bytes   payload: a UTF-8 JSON object, camelCase keys
    rest      RSA PKCS#1 v1.5 signature with SHA-256 over the payload bytes only

The bytes are written in Crockford base32 (:mod:`._crockford`) in dash-separated groups.
The verifier checks the signature before it parses a single field of the payload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .._exceptions import ConfigurationError, InvalidOfflineCode
from . import _crockford

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MIN_RSA_BITS",
    "OFFLINE_CODE_MIN_LENGTH",
    "PublicKeys",
    "TrustedKeys",
    "VerifiedCode",
    "encode_payload",
    "is_offline_code",
    "issue_offline_code",
    "load_private_key",
    "load_public_keys",
    "load_trusted_keys",
    "verify_offline_code",
]

#: Without dashes and spaces, a key this long or longer is an offline code (as every ExisOne SDK).
OFFLINE_CODE_MIN_LENGTH = 50
#: The length prefix is 16 bits.
MAX_PAYLOAD_BYTES = 0xFFFF
#: Smallest RSA modulus accepted. Production keys are 2048 bits; the reference's vectors use 1024.
MIN_RSA_BITS = 1024

#: Built once: the padding and hash objects are immutable and the verify path is hot.
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
#: The C scanner under ``json.loads``, without its Python wrapper (two regex calls a parse).
_scan_json: Callable[[str, int], tuple[Any, int]]
_scan_json = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

_KeyItem = Union[str, bytes, rsa.RSAPublicKey, ed25519.Ed25519PublicKey]
PublicKeys = Union[_KeyItem, Sequence[_KeyItem]]
#: Where each PEM block (of any label) of a text that holds several starts.
_PEM_START = re.compile(r"(?=-----BEGIN )")


class TrustedKeys(NamedTuple):
    """``offline_public_key`` loaded: the RSA keys (offline codes, signed answers, sealed
    requests and lease tokens) and every key in the order given, Ed25519 ones too (lease
    tokens)."""

    rsa_keys: tuple[rsa.RSAPublicKey, ...]
    lease_keys: tuple[rsa.RSAPublicKey | ed25519.Ed25519PublicKey, ...]


class VerifiedCode(NamedTuple):
    """A code whose signature checked: its payload, and the key (by position) that signed it."""

    payload: dict[str, Any]
    key_index: int


def is_offline_code(key: str) -> bool:
    """Tell an offline code from an online key, the way every ExisOne SDK does: by length."""
    return len(key.replace("-", "").replace(" ", "")) >= OFFLINE_CODE_MIN_LENGTH


def load_public_keys(keys: PublicKeys) -> tuple[rsa.RSAPublicKey, ...]:
    """Load one PEM RSA public key, or several (for key rotation), once.

    Raises :class:`ConfigurationError` with a message that says what is wrong.
    """
    trusted = load_trusted_keys(keys)
    if len(trusted.rsa_keys) != len(trusted.lease_keys):
        raise ConfigurationError("offline_public_key must be an RSA public key")
    return trusted.rsa_keys


def load_trusted_keys(keys: PublicKeys) -> TrustedKeys:
    """Load ``offline_public_key``: PEM public keys, RSA or Ed25519 (a tenant's lease key); a
    text may hold several PEM blocks one after the other.

    Raises :class:`ConfigurationError` with a message that says what is wrong.
    """
    items: Sequence[_KeyItem]
    single = (str, bytes, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)
    items = [keys] if isinstance(keys, single) else keys
    loaded = tuple(_load_key(block) for item in items for block in _pem_blocks(item))
    if not loaded:
        raise ConfigurationError("no offline public key given")
    return TrustedKeys(tuple(k for k in loaded if isinstance(k, rsa.RSAPublicKey)), loaded)


def _pem_blocks(item: _KeyItem) -> list[_KeyItem]:
    """A text's PEM blocks, each on its own, a damaged one too (so that it is refused); a key
    object, or a text of one block, as is."""
    if not isinstance(item, (str, bytes)):
        return [item]
    text = item.decode("ascii", "replace") if isinstance(item, bytes) else item
    blocks: list[_KeyItem] = [p for p in _PEM_START.split(text) if p.startswith("-----BEGIN ")]
    return blocks if len(blocks) > 1 else [item]


def _load_key(item: _KeyItem) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    if isinstance(item, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        key = item
    else:
        pem = item.encode("ascii") if isinstance(item, str) else item
        try:
            candidate = serialization.load_pem_public_key(pem.strip())
        except (ValueError, TypeError, UnicodeError) as exc:
            raise ConfigurationError(
                "offline_public_key is not a PEM public key (it should start with "
                "'-----BEGIN PUBLIC KEY-----'; copy it from the Crypto Keys page)"
            ) from exc
        if not isinstance(candidate, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
            raise ConfigurationError("offline_public_key must be an RSA or Ed25519 public key")
        key = candidate
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ConfigurationError(
            f"offline_public_key is RSA-{key.key_size}; at least {MIN_RSA_BITS} bits needed"
        )
    return key


def load_private_key(pem: str | bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#8 or PKCS#1)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("the signing key must be an RSA private key")
    return key


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The exact payload bytes that get signed: compact UTF-8 JSON, keys in the given order."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def issue_offline_code(
    payload: Mapping[str, Any], private_key: rsa.RSAPrivateKey, *, group_size: int = 5
) -> str:
    """Sign ``payload`` and return the offline activation code, in dash-separated groups."""
    body = encode_payload(payload)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"offline payload is {len(body)} bytes; the format holds at most 65535")
    signature = private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    blob = len(body).to_bytes(2, "little") + body + signature
    return _crockford.group(_crockford.encode(blob), group_size)


def verify_offline_code(code: str, public_keys: Sequence[rsa.RSAPublicKey]) -> VerifiedCode:
    """Decode ``code``, check its signature against each trusted key, then parse the payload.

    Raises :class:`InvalidOfflineCode` for every failure: stray characters, a truncated or
    extended code, a signature that no trusted key made, a payload that is not a JSON object.
    """
    blob = _crockford.decode(code, strict=True)
    if len(blob) < 4:
        raise InvalidOfflineCode("Offline code is too short to be an activation code")
    size = int.from_bytes(blob[:2], "little")
    if len(blob) < 2 + size + 1:
        raise InvalidOfflineCode("Offline code is incomplete (was it cut off when copied?)")
    body, signature = blob[2 : 2 + size], blob[2 + size :]
    for index, key in enumerate(public_keys):
        if len(signature) != (key.key_size + 7) // 8:
            continue
        try:
            key.verify(signature, body, _PKCS1V15, _SHA256)
        except InvalidSignature:
            continue
        return VerifiedCode(_parse_verified_payload(body), index)
    raise InvalidOfflineCode("Invalid or tampered offline activation code")


def _parse_verified_payload(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        try:
            payload, end = _scan_json(text, 0)
        except StopIteration:  # no JSON value at index 0 (white space first, say)
            end = -1
        if end != len(text):  # let json.loads accept white space or name the error
            payload = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOfflineCode("Offline code payload is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidOfflineCode("Offline code payload is not a JSON object")
    return payload
