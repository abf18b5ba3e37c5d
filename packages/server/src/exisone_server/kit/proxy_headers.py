"""Trust ``X-Forwarded-For`` and ``X-Forwarded-Proto`` only from the reverse proxies we run behind.

granian ships such a wrapper, but it applies the scheme only when ``X-Forwarded-For`` comes too
and reads ``*`` only as the whole setting; this one follows what the docs promise (and what
uvicorn did): each header on its own, ``*`` anywhere in the list, and one decision per peer
address, remembered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

__all__ = ["TrustedProxies", "with_proxy_headers"]

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


class TrustedProxies:
    """The addresses and networks in a comma-separated setting (``*``: every peer)."""

    def __init__(self, setting: str) -> None:
        items = [item.strip() for item in setting.split(",") if item.strip()]
        self.everyone = "*" in items
        self._networks = [ipaddress.ip_network(item, strict=False) for item in items if item != "*"]
        self.trusts = lru_cache(maxsize=1024)(self._trusts)

    def _trusts(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def with_proxy_headers(app: Asgi, trusted: TrustedProxies) -> Asgi:
    """``app`` seeing the client address and scheme the trusted proxy reports."""

    def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if trusted.trusts(client[0] if client else None):
                _apply(scope, trusted)
        return app(scope, receive, send)

    return wrapped


def _apply(scope: dict[str, Any], trusted: TrustedProxies) -> None:
    forwarded_for: list[str] = []
    proto = None
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded_for += [part.strip() for part in value.decode("latin-1").split(",")]
        elif name == b"x-forwarded-proto" and proto is None:
            proto = value.decode("latin-1").strip().lower()
    if proto in _SCHEMES:
        scope["scheme"] = _SCHEMES[proto][scope["type"] == "websocket"]
    hosts = [host for host in forwarded_for if host]
    if hosts:
        scope["client"] = (_client_of(hosts, trusted), 0)


def _client_of(hosts: list[str], trusted: TrustedProxies) -> str:
    """The nearest address that is not one of our proxies (what a client writes at the left
    of the list could be anything), or the leftmost when every hop is trusted."""
    if not trusted.everyone:
        for host in reversed(hosts):
            if not trusted.trusts(host):
                return host
    return hosts[0]
