"""Offline activation codes: Crockford base32, the signed payload, verification."""

from ._codec import (
    MAX_PAYLOAD_BYTES,
    MIN_RSA_BITS,
    OFFLINE_CODE_MIN_LENGTH,
    PublicKeys,
    TrustedKeys,
    VerifiedCode,
    encode_payload,
    is_offline_code,
    issue_offline_code,
    load_private_key,
    load_public_keys,
    load_trusted_keys,
    verify_offline_code,
)

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
