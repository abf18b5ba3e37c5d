"""What an ExisOne license server and its clients share, byte for byte: a public, versioned surface.

* **Lease tokens** (floating seats): :func:`issue_lease_token` (the server signs, with an RSA
  or Ed25519 key) and :func:`verify_lease_token` (the client checks, also offline);
  :func:`load_trusted_keys` loads a tenant's public keys of both kinds.
* **Offline activation codes**: :func:`issue_offline_code` (the server signs) and
  :func:`verify_offline_code` (the client checks), :func:`is_offline_code` (tells a code from a
  license key).
* **Signed answers**: the headers, :func:`canonical_message`, :func:`sign_answer` (the server)
  and :func:`verify_answer` (the client).
* **Dates**: :func:`format_datetime` writes the protocol's one shape, :func:`parse_datetime`
  reads every shape servers send; :data:`PERPETUAL` is "never expires".
* **Sealed validation** (``POST /api/license/validate-encrypted``): :func:`seal_request` and
  :func:`open_answer` (the client), :func:`open_request` and :func:`seal_answer` (the server).
* **Codes**: :class:`ErrorCode` (``error`` of an error answer), :class:`ValidationReason` and
  :class:`ValidationStatus` (``reason`` and ``status`` of a validate answer), and the exceptions
  the functions above raise.

docs/protocol.md describes each format exactly. :data:`PROTOCOL_VERSION` is ``"MAJOR.MINOR"``:
the major number changes when something written under the old version can no longer be read
under the new one, the minor number when something is added that older readers ignore.
Importing this module loads cryptography (``import exisone`` alone does not).
"""

from __future__ import annotations

from ._answer_signature import (
    NONCE_HEADER,
    SIGNATURE_ALGORITHM,
    SIGNATURE_HEADER,
    SIGNED_PATHS,
    AnswerSignature,
    canonical_message,
    is_valid_nonce,
    key_id,
    new_nonce,
    parse_signature_header,
    sign_answer,
    verify_answer,
)
from ._codes import ErrorCode, ValidationReason
from ._dates import PERPETUAL, format_datetime, parse_datetime
from ._exceptions import (
    AnswerSignatureError,
    ConfigurationError,
    ExisOneError,
    InvalidLeaseToken,
    InvalidOfflineCode,
)
from ._lease_token import (
    LEASE_TOKEN_PREFIX,
    LEASE_TOKEN_VERSION,
    VerifiedLease,
    issue_lease_token,
    verify_lease_token,
)
from ._models import ValidationStatus
from ._offline import (
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
from ._sealed import (
    SEALED_KEY_BYTES,
    OpenedRequest,
    SealedPayloadError,
    envelope_key_id,
    open_answer,
    open_request,
    seal_answer,
    seal_request,
)

__all__ = [
    "LEASE_TOKEN_PREFIX",
    "LEASE_TOKEN_VERSION",
    "MAX_PAYLOAD_BYTES",
    "MIN_RSA_BITS",
    "NONCE_HEADER",
    "OFFLINE_CODE_MIN_LENGTH",
    "PERPETUAL",
    "PROTOCOL_VERSION",
    "SEALED_KEY_BYTES",
    "SIGNATURE_ALGORITHM",
    "SIGNATURE_HEADER",
    "SIGNED_PATHS",
    "AnswerSignature",
    "AnswerSignatureError",
    "ConfigurationError",
    "ErrorCode",
    "ExisOneError",
    "InvalidLeaseToken",
    "InvalidOfflineCode",
    "OpenedRequest",
    "PublicKeys",
    "SealedPayloadError",
    "TrustedKeys",
    "ValidationReason",
    "ValidationStatus",
    "VerifiedCode",
    "VerifiedLease",
    "canonical_message",
    "encode_payload",
    "envelope_key_id",
    "format_datetime",
    "is_offline_code",
    "is_valid_nonce",
    "issue_lease_token",
    "issue_offline_code",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "load_trusted_keys",
    "new_nonce",
    "open_answer",
    "open_request",
    "parse_datetime",
    "parse_signature_header",
    "seal_answer",
    "seal_request",
    "sign_answer",
    "verify_answer",
    "verify_lease_token",
    "verify_offline_code",
]

#: The version of the formats above (see the module docstring for what its numbers mean).
PROTOCOL_VERSION = "1.1"
