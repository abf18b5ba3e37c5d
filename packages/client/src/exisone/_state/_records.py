"""Last known good: the newest verified, valid answer of the server for a key on this machine.

The record IS the signed answer (request, nonce, status, body, signature header), so reading it
re-verifies the signature: an edited record is worth nothing, not "valid".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import AnswerSignatureError, ExisOneError
from .._models import ValidationResult
from ._store import file_name

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["LastKnownGood", "RecordStore", "SignedAnswer"]

_FOLDER = "last-known-good"
_VERSION = 1


@dataclass(frozen=True)
class SignedAnswer:
    """One answer whose signature was checked, with what it was an answer to."""

    method: str
    path: str
    nonce: str
    request_body: bytes
    status: int
    response_body: bytes
    signature_header: str
    server_time: datetime


@dataclass(frozen=True)
class LastKnownGood:
    """A re-verified record: the server's result, when it said so, and what was asked."""

    result: ValidationResult
    server_time: datetime
    product_name: str | None


class Backend(Protocol):
    """Where records live: :class:`~._store.StateDir` files or the OS keyring."""

    def path(self, folder: str, name: str) -> Any: ...
    def read(self, path: Any) -> dict[str, Any] | None: ...
    def write(self, path: Any, data: dict[str, Any]) -> None: ...
    def remove(self, path: Any) -> None: ...


class RecordStore:
    def __init__(self, store: Backend, base_url: str) -> None:
        self._store = store
        self._base_url = base_url

    def _path(self, activation_key: str, hardware_id: str) -> Any:
        name = file_name(self._base_url, activation_key.strip(), hardware_id.strip().upper())
        return self._store.path(_FOLDER, name)

    def save(self, activation_key: str, hardware_id: str, answer: SignedAnswer) -> None:
        self._store.write(
            self._path(activation_key, hardware_id),
            {
                "v": _VERSION,
                "baseUrl": self._base_url,
                "method": answer.method,
                "path": answer.path,
                "nonce": answer.nonce,
                "requestBody": base64.b64encode(answer.request_body).decode("ascii"),
                "status": answer.status,
                "responseBody": base64.b64encode(answer.response_body).decode("ascii"),
                "signature": answer.signature_header,
            },
        )

    def forget(self, activation_key: str, hardware_id: str) -> None:
        self._store.remove(self._path(activation_key, hardware_id))

    def load(
        self, activation_key: str, hardware_id: str, public_keys: Sequence[RSAPublicKey]
    ) -> LastKnownGood | None:
        """The record for this key and machine if it verifies and says valid; else None."""
        data = self._store.read(self._path(activation_key, hardware_id))
        if data is None or data.get("v") != _VERSION or data.get("baseUrl") != self._base_url:
            return None
        try:
            return _verified(data, activation_key, hardware_id, public_keys)
        except (AnswerSignatureError, ExisOneError, KeyError, TypeError, ValueError):
            return None


def _verified(
    data: dict[str, Any],
    activation_key: str,
    hardware_id: str,
    public_keys: Sequence[RSAPublicKey],
) -> LastKnownGood | None:
    from .._answer_signature import verify_answer
    from .._parsing import validation_result

    request_body = base64.b64decode(data["requestBody"], validate=True)
    response_body = base64.b64decode(data["responseBody"], validate=True)
    signature = verify_answer(
        data["signature"],
        public_keys,
        method=str(data["method"]),
        path=str(data["path"]),
        nonce=str(data["nonce"]),
        status=int(data["status"]),
        request_body=request_body,
        response_body=response_body,
    )
    if data["path"] != "/api/license/validate" or not 200 <= int(data["status"]) < 300:
        return None
    asked = json.loads(request_body)
    if (
        str(asked.get("activationKey", "")).strip() != activation_key.strip()
        or str(asked.get("hardwareId", "")).strip().upper() != hardware_id.strip().upper()
    ):
        return None
    answer = json.loads(response_body)
    if not isinstance(answer, dict):
        return None
    result = validation_result(answer)
    if not result.is_valid:
        return None
    product = asked.get("productName") or answer.get("productName")
    return LastKnownGood(
        result=result,
        server_time=datetime.fromtimestamp(signature.timestamp, timezone.utc),
        product_name=product if isinstance(product, str) else None,
    )
