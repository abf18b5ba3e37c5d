"""The exceptions of the ExisOne SDK.

Every exception the SDK raises on purpose derives from :class:`ExisOneError`::

    ExisOneError
    ├── ConfigurationError            (also a ValueError) bad options: base URL, key, token
    │   ├── InsecureBaseUrlError      plain http:// to a host that is not loopback
    │   └── HostNotAllowedError       base URL host outside ``allowed_base_url_hosts``
    ├── InvalidArgumentError          (also a ValueError) a required argument is blank
    ├── ClientClosedError             (also a RuntimeError) the client was closed
    ├── TransportError                the server could not be reached: "offline"
    │   ├── ConnectTimeout            no connection in time (request not sent; TimeoutError)
    │   ├── ReadTimeout               request sent, no answer in time (TimeoutError)
    │   └── NetworkError              reset, broken answer, other socket failure
    │       └── ConnectError          refused, DNS, TLS failure (request not sent)
    ├── APIError                      the server answered with an error status
    │   ├── BadRequestError           400 / 422
    │   ├── AuthenticationError       401: missing, malformed, expired or revoked token
    │   ├── PermissionDeniedError     403: the token lacks a permission
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   │   └── NoFreeSeatError       lease: every floating seat is leased (``next_free_at``)
    │   ├── RateLimitError            429, with ``retry_after``
    │   └── ServerError               5xx
    ├── InvalidResponseError          a 2xx answer the SDK cannot read
    ├── AnswerSignatureError          a signed answer that does not verify, or an unsigned
    │                                 one that must be signed, or a sealed answer
    │                                 (validate_encrypted) that does not open: forged, replayed
    │                                 or stripped
    ├── InvalidOfflineCode            an offline code that fails decoding or its signature
    └── InvalidLeaseToken             a lease token that fails decoding or its signature

License-level outcomes are never exceptions: an invalid, expired, trial or outdated license is a
result (``ValidationResult.status``). ``activate`` reports refusals and an unreachable server in
its ``ActivationResult`` (``error_code="network_error"``); ``validate_offline`` and
``deactivate_smart`` never raise for server or network failures; ``validate_smart`` turns only a
``TransportError`` into status ``offline``. httpx exceptions are translated in ``_httpx_errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "APIError",
    "AnswerSignatureError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "ExisOneError",
    "HostNotAllowedError",
    "InsecureBaseUrlError",
    "InvalidArgumentError",
    "InvalidLeaseToken",
    "InvalidOfflineCode",
    "InvalidResponseError",
    "NetworkError",
    "NoFreeSeatError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReadTimeout",
    "ServerError",
    "TransportError",
]


class ExisOneError(Exception):
    """Root of every error raised by the SDK."""


class ConfigurationError(ExisOneError, ValueError):
    """The client's options cannot work (missing or unsafe base URL, bad public key, ...)."""


class InsecureBaseUrlError(ConfigurationError):
    """The base URL is not HTTPS and its host is not a loopback address."""


class HostNotAllowedError(ConfigurationError):
    """The base URL's host is not in ``allowed_base_url_hosts``."""


class InvalidArgumentError(ExisOneError, ValueError):
    """A required argument is missing or blank (checked before any request is sent)."""


class ClientClosedError(ExisOneError, RuntimeError):
    """The client was closed (``close()``/``aclose()`` or the end of its ``with`` block)."""


class TransportError(ExisOneError):
    """No HTTP answer came back: the server is unreachable from here."""


class NetworkError(TransportError):
    """The connection broke: reset, closed early, or an answer that is not HTTP."""


class ConnectError(NetworkError):
    """The connection could not be opened (refused, DNS, TLS); the request was not sent."""


class ConnectTimeout(TransportError, TimeoutError):
    """No connection could be opened in time; the request was not sent."""


class ReadTimeout(TransportError, TimeoutError):
    """The request was (at least partly) sent but no answer came in time."""


class APIError(ExisOneError):
    """The server answered with an HTTP error status.

    ``error_code`` and ``message`` come from the server's ``{"error": ..., "message": ...}``
    body when it has one.
    """

    def __init__(
        self,
        status_code: int,
        error_code: str | None = None,
        message: str | None = None,
        body: str = "",
    ) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.message = message or body[:200] or f"HTTP {status_code}"
        self.body = body
        detail = f" ({error_code})" if error_code else ""
        super().__init__(f"HTTP {status_code}{detail}: {self.message}")


class BadRequestError(APIError):
    """400 or 422: the server rejected the request's content."""


class AuthenticationError(APIError):
    """401: the access token is missing, malformed, expired or revoked."""


class PermissionDeniedError(APIError):
    """403: the access token lacks the permission this call needs."""


class NotFoundError(APIError):
    """404: no such license, product or resource (for this tenant)."""


class ConflictError(APIError):
    """409: the request conflicts with the current state."""


class NoFreeSeatError(ConflictError):
    """409 ``no_free_seat``: every floating seat of the license is leased. ``next_free_at``
    is when the first lease runs out unless renewed (``None`` if the server did not say)."""

    def __init__(
        self,
        status_code: int,
        error_code: str | None = None,
        message: str | None = None,
        body: str = "",
        *,
        seats_in_use: int | None = None,
        max_seats: int | None = None,
        next_free_at: datetime | None = None,
    ) -> None:
        super().__init__(status_code, error_code, message, body)
        self.seats_in_use = seats_in_use
        self.max_seats = max_seats
        self.next_free_at = next_free_at


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        status_code: int,
        error_code: str | None = None,
        message: str | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, error_code, message, body)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


class InvalidResponseError(ExisOneError):
    """A successful HTTP answer whose body is not what the protocol says."""


class AnswerSignatureError(ExisOneError):
    """The server's answer failed the signature check: a bad or missing signature, another
    request's nonce, an untrusted key, or a time too far from this computer's clock; or a
    sealed answer of ``validate_encrypted`` that does not open with its request's key.

    ``validate_smart`` treats it like an unreachable server (a man in the middle is no server).
    """


class InvalidOfflineCode(ExisOneError):
    """The offline activation code is malformed, or its signature does not verify.

    The message says which, in words a user can act on (a stray character, a truncated code,
    a code signed by another key).
    """


class InvalidLeaseToken(ExisOneError):
    """A floating seat's lease token is malformed, or its signature does not verify."""
