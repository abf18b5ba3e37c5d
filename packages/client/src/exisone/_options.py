"""Client options: the official dataclass, and the checked settings the SDK runs on."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from ._constants import ENV_BASE_URL, LOOPBACK_NAMES
from ._exceptions import ConfigurationError, HostNotAllowedError, InsecureBaseUrlError

__all__ = ["ExisOneClientOptions"]

#: A number of seconds (both phases), ``None`` (no limit), a ``(connect, read)`` pair, or an
#: object with ``connect`` and ``read`` attributes such as ``httpx.Timeout``.
TimeoutTypes = Union[float, int, None, Sequence[Optional[float]], Any]


@dataclass
class ExisOneClientOptions:
    """The options of exisone-client 0.10.0, same fields and defaults. Never modified by the SDK."""

    base_url: str = ""
    """API root, e.g. ``https://licensing.example.com``; else env ``EXISONE_BASEURL``."""
    access_token: str = ""
    """``exo_at_<public>_<secret>`` from the Access Tokens page."""
    offline_public_key: str | Sequence[str] | None = None
    """RSA public key PEM (or several, newest first) for offline codes."""
    allowed_base_url_hosts: list[str] | None = None
    """If non-empty, the base URL's host must be one of these (case-insensitive)."""
    timeout: TimeoutTypes = 30
    """Seconds, or a ``(connect, read)`` pair, or an ``httpx.Timeout``."""
    hardware_id_override: str | None = None
    """A stable per-user ID returned by ``generate_hardware_id()`` instead of a fingerprint."""


def resolve_base_url(value: str | None, allowed_hosts: Sequence[str] | None) -> str:
    """Check a base URL (or ``EXISONE_BASEURL``) and return it without trailing slashes.

    HTTPS is required, except plain http to loopback hosts (development). A path prefix is
    kept: ``https://h/prefix`` serves ``https://h/prefix/api/...``.
    """
    raw = (value or "").strip() or os.environ.get(ENV_BASE_URL, "").strip()
    if not raw:
        raise ConfigurationError(f"base_url is required (pass base_url= or set {ENV_BASE_URL})")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigurationError(f"base_url is not a valid URL: {raw!r}") from exc
    if scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"base_url must be an https:// URL with a host, got {raw!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base_url must not have a query or fragment: {raw!r}")
    if scheme == "http" and not is_loopback(host):
        raise InsecureBaseUrlError(
            "base_url must use HTTPS (plain http:// is allowed only for loopback hosts such as "
            f"127.0.0.1, ::1 and localhost), got {raw!r}"
        )
    if allowed_hosts:
        allowed = {name.strip().lower().rstrip(".") for name in allowed_hosts}
        if host not in allowed:
            raise HostNotAllowedError(
                f"base_url host not allowed: {host!r} is not in allowed_base_url_hosts"
            )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_timeout(value: TimeoutTypes) -> tuple[float | None, float | None]:
    """Return ``(connect, read)`` seconds from any accepted timeout form."""
    if value is None:
        return (None, None)
    if isinstance(value, bool):
        raise TypeError("timeout must be seconds, a (connect, read) pair or an httpx.Timeout")
    if isinstance(value, (int, float)):
        pair: tuple[float | None, float | None] = (float(value), float(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (_seconds(value[0]), _seconds(value[1]))
    elif hasattr(value, "connect") and hasattr(value, "read"):
        pair = (_seconds(value.connect), _seconds(value.read))
    else:
        raise TypeError("timeout must be seconds, a (connect, read) pair or an httpx.Timeout")
    if any(part is not None and part <= 0 for part in pair):
        raise ConfigurationError(f"timeout must be positive, got {value!r}")
    return pair


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a timeout must be a number of seconds or None, got {value!r}")
    return float(value)


def check_access_token(token: str | None) -> str:
    """Return the token without surrounding white space; refuse one no header can carry.

    An empty token is allowed (the header is then omitted and the server answers 401). The
    ``exo_at_`` prefix is not enforced: a self-hosted server may issue other formats.
    """
    token = (token or "").strip()
    if any(char.isspace() or not char.isprintable() or not char.isascii() for char in token):
        raise ConfigurationError(
            "access_token contains spaces, line breaks or non-ASCII characters; paste it exactly "
            "as the Access Tokens page showed it (exo_at_<public>_<secret>)"
        )
    return token
