"""Where webhooks may be sent: HTTPS to public addresses (SSRF protection).

Checked when an endpoint is registered (:func:`check_url`) and again at delivery time, after
resolving the host (:func:`check_resolved`): private, loopback, link-local, multicast and
reserved addresses are refused, except loopback when ``allow_http_loopback`` is set (tests and
local development), which also allows ``http://``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import BadRequest

__all__ = ["TargetRefused", "check_resolved", "check_url"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class TargetRefused(Exception):
    """The URL's address is not an allowed webhook target."""


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """The URL, stripped, or 400 ``invalid_webhook_url`` saying why it cannot be used."""
    text = url.strip()
    if len(text) > 2000:
        raise BadRequest("invalid_webhook_url", "The URL is longer than 2000 characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadRequest("invalid_webhook_url", "The URL is not valid.") from None
    del port
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise BadRequest("invalid_webhook_url", "The URL must be https://host/...")
    if parts.username or parts.password:
        raise BadRequest("invalid_webhook_url", "The URL must not contain credentials.")
    literal = _literal(host)
    loopback = host in _LOOPBACK_NAMES or (literal is not None and literal.is_loopback)
    if parts.scheme == "http" and not (allow_http_loopback and loopback):
        raise BadRequest("invalid_webhook_url", "The URL must use https://.")
    if loopback and not allow_http_loopback:
        raise BadRequest("invalid_webhook_url", "Loopback addresses are not allowed.")
    if literal is not None and not literal.is_loopback and not _is_public(literal):
        raise BadRequest("invalid_webhook_url", "Private or reserved addresses are not allowed.")
    return text


async def check_resolved(url: str, *, allow_http_loopback: bool) -> None:
    """Resolve the URL's host; raise :class:`TargetRefused` unless every address is allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if _is_public(address) or (allow_http_loopback and address.is_loopback):
            continue
        raise TargetRefused(f"{host} resolves to {address}, which is not a public address")
