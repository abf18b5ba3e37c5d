"""Where webhooks may be sent: HTTPS to public addresses (SSRF protection).

Checked when an endpoint is registered (:func:`check_url`: the URL's form, and its host when it
is an address) and again at every delivery (:func:`resolve_target`): the URL is checked again,
the host is resolved **once**, every address it resolves to must be public, and the delivery
connects to one of exactly those addresses (:attr:`Target.request_url`, with the original
``Host`` header and TLS server name), so a DNS answer that changes after the check (rebinding)
is never connected to.

Not public: private, loopback, link-local, multicast, reserved and documentation addresses,
IPv6 addresses that carry such an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
``::a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``,
Teredo ``2001::/32``), the local-use NAT64 prefix ``64:ff9b:1::/48``, and IPv4 hosts written the
old numeric ways (``2130706433``, ``0x7f.1``, ``127.1``). ``allow_http_loopback`` (tests and
local development) also allows loopback addresses and ``http://``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..errors import BadRequest

__all__ = ["Target", "TargetRefused", "check_url", "is_allowed", "resolve", "resolve_target"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
#: IPv6 ranges whose last 32 bits are an IPv4 address.
_LAST_32_BITS_IPV4 = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
)
#: Not reachable from the Internet, whatever Python's ``is_global`` says.
_LOCAL_USE = (ipaddress.IPv6Network("64:ff9b:1::/48"),)  # local-use NAT64 (RFC 8215)
#: Printable ASCII without space, backslash and ``#``: what a webhook URL may contain.
_URL_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F)) - {"\\", "#"}


class TargetRefused(Exception):
    """The URL may not be delivered to; the message (for the server log) says why."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if any(address in network for network in _LAST_32_BITS_IPV4):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _is_public(address: IPAddress) -> bool:
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if any(address in network for network in _LOCAL_USE):
        return False
    return all(_is_public(inner) for inner in _embedded_ipv4(address))


def is_allowed(address: IPAddress, *, allow_http_loopback: bool) -> bool:
    """Whether a webhook may be sent to ``address``."""
    return _is_public(address) or (allow_http_loopback and _is_loopback(address))


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` is, also in the old numeric IPv4 forms resolvers accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _refuse(message: str) -> BadRequest:
    return BadRequest("invalid_webhook_url", message)


def _parse(text: str) -> SplitResult:
    if len(text) > 2000:
        raise _refuse("The URL is longer than 2000 characters.")
    if not set(text) <= _URL_CHARACTERS:
        if "#" in text:
            raise _refuse("The URL must not have a fragment (#...).")
        raise _refuse(
            "The URL must be printable ASCII without spaces or backslashes (percent-encode "
            "anything else; international host names in their xn-- form)."
        )
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError for a port that is no number or out of range
    except ValueError:
        raise _refuse("The URL is not valid.") from None
    del port
    return parts


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """The URL, stripped, or 400 ``invalid_webhook_url`` saying why it cannot be used."""
    text = url.strip()
    parts = _parse(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise _refuse("The URL must be https://host/...")
    if parts.username is not None or parts.password is not None:
        raise _refuse("The URL must not contain credentials.")
    literal = _literal(host)
    name = host.rstrip(".")
    loopback = (
        name in _LOOPBACK_NAMES
        or name.endswith(".localhost")
        or (literal is not None and _is_loopback(literal))
    )
    if parts.scheme == "http" and not (allow_http_loopback and loopback):
        raise _refuse("The URL must use https://.")
    if loopback and not allow_http_loopback:
        raise _refuse("Loopback addresses are not allowed.")
    if literal is not None and not is_allowed(literal, allow_http_loopback=allow_http_loopback):
        raise _refuse("Private or reserved addresses are not allowed.")
    return text


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to, in the resolver's order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = (ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class Target:
    """A checked delivery target: connect to :attr:`address`, speak to :attr:`host`."""

    url: str
    host: str
    port: int
    address: IPAddress

    @property
    def request_url(self) -> str:
        """The URL with its host replaced by the checked address (the port written out)."""
        parts = urlsplit(self.url)
        where = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return urlunsplit((parts.scheme, f"{where}:{self.port}", parts.path, parts.query, ""))

    @property
    def host_header(self) -> str:
        """``Host`` as the URL names it (with its port when one is written)."""
        return urlsplit(self.url).netloc

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https:")


async def resolve_target(url: str, *, allow_http_loopback: bool) -> Target:
    """Check ``url`` again, resolve its host once, and check every address it resolves to;
    :class:`TargetRefused` (with the detail, for the server log) unless all are allowed."""
    try:
        check_url(url, allow_http_loopback=allow_http_loopback)
    except BadRequest as refused:
        raise TargetRefused(refused.message) from None
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except (OSError, ValueError) as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    for address in addresses:
        if not is_allowed(address, allow_http_loopback=allow_http_loopback):
            raise TargetRefused(f"{host} resolves to {address}, which is not a public address")
    return Target(url.strip(), host, port, addresses[0])
