"""The one place where httpx's exceptions become the SDK's (most specific match first)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from . import _exceptions as exc

__all__: list[str] = []

#: Ordered most specific first; every httpx exception class is covered (a test checks it).
HTTPX_EXCEPTION_MAP: tuple[tuple[type[Exception], type[exc.ExisOneError]], ...] = (
    (httpx.ConnectTimeout, exc.ConnectTimeout),
    (httpx.PoolTimeout, exc.ConnectTimeout),
    (httpx.TimeoutException, exc.ReadTimeout),  # ReadTimeout, WriteTimeout
    (httpx.ConnectError, exc.ConnectError),
    (httpx.ProxyError, exc.ConnectError),
    (httpx.UnsupportedProtocol, exc.ConfigurationError),
    (httpx.InvalidURL, exc.ConfigurationError),
    (httpx.DecodingError, exc.InvalidResponseError),
    (httpx.TooManyRedirects, exc.InvalidResponseError),
    (httpx.HTTPStatusError, exc.InvalidResponseError),
    (httpx.TransportError, exc.NetworkError),  # ReadError, WriteError, CloseError, protocol
    (httpx.RequestError, exc.NetworkError),
    (httpx.HTTPError, exc.ExisOneError),
    (httpx.CookieConflict, exc.ExisOneError),
    (httpx.StreamError, exc.ExisOneError),  # SDK bugs: a stream read twice or not read
)


def translate(error: Exception) -> exc.ExisOneError:
    """The SDK exception for an httpx exception, with the original message."""
    for source, target in HTTPX_EXCEPTION_MAP:
        if isinstance(error, source):
            message = str(error) or type(error).__name__
            return target(message)
    raise TypeError(f"not an httpx exception: {error!r}")  # pragma: no cover


@contextlib.contextmanager
def map_httpx_exceptions() -> Iterator[None]:
    """Re-raise httpx exceptions as SDK exceptions, chained with ``from``."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError) as error:
        raise translate(error) from error
