"""Limits of the security layer, from ``EXISONE_*`` environment variables.

=======================================  =====================================================
variable                                 meaning (default)
=======================================  =====================================================
EXISONE_RATE_LIMIT_WINDOW_SECONDS        length of one counting window (60)
EXISONE_RATE_LIMIT_LOOKUP_PER_IP         failed key lookups per client IP and token (30)
EXISONE_RATE_LIMIT_LOOKUP_PER_TOKEN      failed key lookups per token, all IPs (600)
EXISONE_RATE_LIMIT_REFRESH_SECONDS       how stale a process's view of other processes'
                                         blocks may be (1.0; 0 = read the database each time)
EXISONE_MAX_BODY_BYTES                   largest accepted request body (1048576)
=======================================  =====================================================

A limit of 0 switches that limit off. The dashboard login's limits are
:class:`~.login_limits.LoginLimitSettings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SecuritySettings"]

_PREFIX = "EXISONE_"


@dataclass(frozen=True)
class SecuritySettings:
    window_seconds: int = 60
    lookup_per_ip: int = 30
    lookup_per_token: int = 600
    refresh_seconds: float = 1.0
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("EXISONE_RATE_LIMIT_WINDOW_SECONDS must be 1 or more")
        if self.max_body_bytes < 1024:
            raise ValueError("EXISONE_MAX_BODY_BYTES must be 1024 or more")
        for name in ("lookup_per_ip", "lookup_per_token"):
            if getattr(self, name) < 0:
                raise ValueError(f"the rate limit {name} must be 0 (off) or more")
        if self.refresh_seconds < 0:
            raise ValueError("EXISONE_RATE_LIMIT_REFRESH_SECONDS must be 0 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecuritySettings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float, kind: type[int] | type[float] = int) -> float:
            text = env.get(_PREFIX + name)
            if not text:
                return default
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{_PREFIX}{name} must be a number, not {text!r}") from None

        return cls(
            window_seconds=int(number("RATE_LIMIT_WINDOW_SECONDS", 60)),
            lookup_per_ip=int(number("RATE_LIMIT_LOOKUP_PER_IP", 30)),
            lookup_per_token=int(number("RATE_LIMIT_LOOKUP_PER_TOKEN", 600)),
            refresh_seconds=float(number("RATE_LIMIT_REFRESH_SECONDS", 1.0, float)),
            max_body_bytes=int(number("MAX_BODY_BYTES", 1_048_576)),
        )
