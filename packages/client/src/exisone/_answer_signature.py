"""Signed answers: the canonical string, the ``ExisOne-Signature`` header, sign and verify.

Shared by the client (verify) and exisone-server (sign). A request opts in by sending
``ExisOne-Nonce: <base64url of 16+ random bytes>``; the server then adds::

    ExisOne-Signature: keyid=<sha256 hex of the key's DER SubjectPublicKeyInfo>,
        alg=rsa-pkcs1v15-sha256, ts=<unix seconds>, sig=<base64url, no padding>

over the UTF-8 bytes of (lines joined by ``\\n``, no trailing newline)::

    exisone-answer/v1
    <METHOD>                  e.g. POST
    <PATH>                    the API path, e.g. /api/license/validate
    <nonce>                   exactly as the client sent it
    <ts>                      the same unix seconds as in the header
    <status>                  the HTTP status code, e.g. 200
    <sha256 hex of the request body>
    <sha256 hex of the response body>

The status binds an error answer to its code; the request digest binds the answer to the
license key and hardware ID asked about; the nonce makes every answer single-use.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ._exceptions import AnswerSignatureError

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_ALGORITHM",
    "SIGNATURE_HEADER",
    "SIGNED_PATHS",
    "AnswerSignature",
    "canonical_message",
    "is_valid_nonce",
    "key_id",
    "new_nonce",
    "parse_signature_header",
    "sign_answer",
    "verify_answer",
]

NONCE_HEADER = "ExisOne-Nonce"
SIGNATURE_HEADER = "ExisOne-Signature"
SIGNATURE_ALGORITHM = "rsa-pkcs1v15-sha256"
VERSION_LINE = "exisone-answer/v1"
#: The API paths whose answers a server signs when asked.
SIGNED_PATHS = frozenset(
    {"/api/license/validate", "/api/license/activate", "/api/license/deactivate"}
)
NONCE_BYTES = 16
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")


@dataclass(frozen=True)
class AnswerSignature:
    """The parsed ``ExisOne-Signature`` header."""

    key_id: str
    algorithm: str
    timestamp: int
    signature: bytes


def new_nonce() -> str:
    """16 random bytes, base64url without padding (22 characters)."""
    return _b64encode(secrets.token_bytes(NONCE_BYTES))


def is_valid_nonce(value: str) -> bool:
    """22 to 128 base64url characters (at least 16 bytes)."""
    return bool(_NONCE.match(value))


def key_id(public_key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 hex of its DER SubjectPublicKeyInfo (as exisone-server)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def canonical_message(
    *,
    method: str,
    path: str,
    nonce: str,
    timestamp: int,
    status: int,
    request_digest: str,
    response_digest: str,
) -> bytes:
    """The exact bytes that are signed (see the module docstring); digests are SHA-256 hex."""
    lines = (
        VERSION_LINE,
        method.upper(),
        path,
        nonce,
        str(timestamp),
        str(status),
        request_digest,
        response_digest,
    )
    return "\n".join(lines).encode("utf-8")


def format_signature_header(signature: AnswerSignature) -> str:
    return (
        f"keyid={signature.key_id}, alg={signature.algorithm}, ts={signature.timestamp}, "
        f"sig={_b64encode(signature.signature)}"
    )


def parse_signature_header(value: str) -> AnswerSignature:
    """Read the header; :class:`AnswerSignatureError` when a part is missing or malformed."""
    parts: dict[str, str] = {}
    for item in value.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name in parts:
            raise AnswerSignatureError("malformed ExisOne-Signature header")
        parts[name.strip().lower()] = part.strip()
    try:
        return AnswerSignature(
            key_id=parts["keyid"].lower(),
            algorithm=parts["alg"],
            timestamp=int(parts["ts"]),
            signature=_b64decode(parts["sig"]),
        )
    except (KeyError, ValueError) as exc:
        raise AnswerSignatureError("malformed ExisOne-Signature header") from exc


def sign_answer(
    private_key: rsa.RSAPrivateKey,
    signing_key_id: str,
    *,
    method: str,
    path: str,
    nonce: str,
    timestamp: int,
    status: int,
    request_digest: str,
    response_body: bytes,
) -> str:
    """The ``ExisOne-Signature`` header value for one answer (request digest: SHA-256 hex)."""
    message = canonical_message(
        method=method,
        path=path,
        nonce=nonce,
        timestamp=timestamp,
        status=status,
        request_digest=request_digest,
        response_digest=hashlib.sha256(response_body).hexdigest(),
    )
    raw = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return format_signature_header(
        AnswerSignature(signing_key_id, SIGNATURE_ALGORITHM, timestamp, raw)
    )


def verify_answer(
    header: str | None,
    public_keys: Sequence[rsa.RSAPublicKey],
    *,
    method: str,
    path: str,
    nonce: str,
    status: int,
    request_body: bytes,
    response_body: bytes,
) -> AnswerSignature:
    """Check an answer's signature against the trusted key it names.

    Raises :class:`AnswerSignatureError` when the header is missing or malformed, names a key
    that is not trusted, or the signature does not cover this request, nonce, status and body.
    The time is returned, not judged: the caller compares it with its clocks.
    """
    if not header:
        raise AnswerSignatureError("the answer is not signed (no ExisOne-Signature header)")
    signature = parse_signature_header(header)
    if signature.algorithm != SIGNATURE_ALGORITHM:
        raise AnswerSignatureError(f"unsupported signature algorithm {signature.algorithm!r}")
    key = next((k for k in public_keys if key_id(k) == signature.key_id), None)
    if key is None:
        raise AnswerSignatureError(
            f"the answer is signed by key {signature.key_id[:16]}..., which is not trusted"
        )
    message = canonical_message(
        method=method,
        path=path,
        nonce=nonce,
        timestamp=signature.timestamp,
        status=status,
        request_digest=hashlib.sha256(request_body).hexdigest(),
        response_digest=hashlib.sha256(response_body).hexdigest(),
    )
    try:
        key.verify(signature.signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise AnswerSignatureError(
            "the answer's signature does not verify (tampered, replayed, or for another request)"
        ) from None
    return signature


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.match(r"^[A-Za-z0-9_-]+$", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
