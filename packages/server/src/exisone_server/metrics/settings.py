"""Metrics settings, read from environment variables.

==============================  ===========================================================
variable                        meaning (default)
==============================  ===========================================================
EXISONE_METRICS                 ``off`` (the default: no ``/metrics``, nothing recorded),
                                ``on`` (``/metrics`` open to whoever reaches it) or ``token``
                                (``Authorization: Bearer <token>`` required)
EXISONE_METRICS_TOKEN_SHA256    with ``token``: the SHA-256 (hex) of the token, as printed by
                                ``exisone-server metrics-token``; the token itself is never
                                stored
==============================  ===========================================================
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["MetricsAccess", "MetricsSettings", "new_metrics_token"]

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class MetricsAccess(str, Enum):
    OFF = "off"
    ON = "on"
    TOKEN = "token"


def new_metrics_token() -> tuple[str, str]:
    """A new random token and its SHA-256 (hex), the value of the setting."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class MetricsSettings:
    access: MetricsAccess = MetricsAccess.OFF
    token_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.access is MetricsAccess.TOKEN and not self.token_sha256:
            raise ValueError(
                "EXISONE_METRICS=token needs EXISONE_METRICS_TOKEN_SHA256 "
                "(exisone-server metrics-token makes one)"
            )

    @property
    def enabled(self) -> bool:
        return self.access is not MetricsAccess.OFF

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MetricsSettings:
        env = os.environ if environ is None else environ
        text = (env.get("EXISONE_METRICS") or "off").strip().lower()
        try:
            access = MetricsAccess(text)
        except ValueError:
            raise ValueError(f"EXISONE_METRICS must be off, on or token, not {text!r}") from None
        digest = (env.get("EXISONE_METRICS_TOKEN_SHA256") or "").strip().lower() or None
        if digest is not None and not _HEX_SHA256.fullmatch(digest):
            raise ValueError("EXISONE_METRICS_TOKEN_SHA256 must be 64 hexadecimal digits")
        return cls(access=access, token_sha256=digest)

    def allows(self, authorization: str | None) -> bool:
        """Whether a request with this ``Authorization`` header may read the metrics."""
        if self.access is MetricsAccess.ON:
            return True
        if self.access is MetricsAccess.OFF or not authorization or not self.token_sha256:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        given = hashlib.sha256(token.strip().encode()).hexdigest()
        return hmac.compare_digest(given, self.token_sha256)
