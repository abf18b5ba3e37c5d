"""httpx settings shared by both clients: timeouts, TLS trust, the exception mapping."""

from __future__ import annotations

import os
import ssl
from typing import Union

import httpx

from ._constants import SMART_SYNC_TIMEOUT
from ._httpx_errors import map_httpx_exceptions

__all__ = ["SYNC_TIMEOUT", "VerifyTypes", "httpx_timeout", "map_httpx_exceptions", "ssl_verify"]

#: ``True`` (system CA bundle of httpx/certifi), ``False`` (no check: tests only), a CA bundle
#: path (e.g. a private CA of a self-hosted server), or an ``ssl.SSLContext``.
VerifyTypes = Union[bool, str, "os.PathLike[str]", ssl.SSLContext]

#: Timeout of the best-effort background sync of validate_smart.
SYNC_TIMEOUT = httpx.Timeout(SMART_SYNC_TIMEOUT)


def httpx_timeout(pair: tuple[float | None, float | None]) -> httpx.Timeout:
    """``(connect, read)`` as httpx.Timeout: writes get the read limit, the pool the connect one."""
    connect, read = pair
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def ssl_verify(verify: VerifyTypes) -> bool | ssl.SSLContext:
    """A CA bundle path becomes an SSLContext (httpx 0.28 deprecates path strings)."""
    if isinstance(verify, (bool, ssl.SSLContext)):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        path = os.fspath(verify)
        if not os.path.isfile(path):
            from ._exceptions import ConfigurationError

            raise ConfigurationError(f"verify: no CA bundle file at {path!r}")
        return ssl.create_default_context(cafile=path)
    raise TypeError("verify must be a bool, a CA bundle path or an ssl.SSLContext")
