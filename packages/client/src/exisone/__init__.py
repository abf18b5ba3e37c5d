"""ExisOne: software activation for Python applications.

``import exisone`` is cheap: names load on first use (httpx and cryptography only then)::

    from exisone import ExisOneClient, ExisOneClientOptions

    with ExisOneClient(base_url="https://licensing.example.com", access_token="exo_at_...") as c:
        result = c.validate(key, c.generate_hardware_id(), "MyProduct")
"""

from __future__ import annotations

import importlib

from .__version__ import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs more than the SDK
if TYPE_CHECKING:
    from typing import Any

    from ._async_client import AsyncExisOneClient
    from ._async_lease import AsyncLease
    from ._client import ExisOneClient
    from ._exceptions import (
        AnswerSignatureError,
        APIError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConfigurationError,
        ConflictError,
        ConnectError,
        ConnectTimeout,
        ExisOneError,
        HostNotAllowedError,
        InsecureBaseUrlError,
        InvalidArgumentError,
        InvalidLeaseToken,
        InvalidOfflineCode,
        InvalidResponseError,
        NetworkError,
        NoFreeSeatError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ReadTimeout,
        ServerError,
        TransportError,
    )
    from ._hwid import generate_hardware_id
    from ._lease import Lease
    from ._models import (
        ActivationResult,
        ApiUsage,
        ApiUsageDay,
        BorrowedLease,
        ConsumeResult,
        DeactivationResult,
        GeneratedActivationKey,
        LeaseCheck,
        LeaseGrant,
        LeaseLostReason,
        LeaseStatus,
        OfflineKeyPayload,
        OfflineValidationResult,
        SeatUsage,
        SmartValidationResult,
        ValidationResult,
        ValidationStatus,
    )
    from ._options import ExisOneClientOptions

__all__ = [  # noqa: RUF022 - sorted with str.casefold, as httpx does
    "__version__",
    "ActivationResult",
    "AnswerSignatureError",
    "APIError",
    "ApiUsage",
    "ApiUsageDay",
    "AsyncExisOneClient",
    "AsyncLease",
    "AuthenticationError",
    "BadRequestError",
    "BorrowedLease",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "ConsumeResult",
    "DeactivationResult",
    "ExisOneClient",
    "ExisOneClientOptions",
    "ExisOneError",
    "generate_hardware_id",
    "GeneratedActivationKey",
    "HostNotAllowedError",
    "InsecureBaseUrlError",
    "InvalidArgumentError",
    "InvalidLeaseToken",
    "InvalidOfflineCode",
    "InvalidResponseError",
    "Lease",
    "LeaseCheck",
    "LeaseGrant",
    "LeaseLostReason",
    "LeaseStatus",
    "NetworkError",
    "NoFreeSeatError",
    "NotFoundError",
    "OfflineKeyPayload",
    "OfflineValidationResult",
    "PermissionDeniedError",
    "RateLimitError",
    "ReadTimeout",
    "SeatUsage",
    "ServerError",
    "SmartValidationResult",
    "TransportError",
    "ValidationResult",
    "ValidationStatus",
]

#: The private module that defines each public name (loaded on first access).
_SOURCES = {
    "._async_client": ("AsyncExisOneClient",),
    "._async_lease": ("AsyncLease",),
    "._client": ("ExisOneClient",),
    "._hwid": ("generate_hardware_id",),
    "._lease": ("Lease",),
    "._options": ("ExisOneClientOptions",),
    "._models": (
        "ActivationResult",
        "ApiUsage",
        "ApiUsageDay",
        "BorrowedLease",
        "ConsumeResult",
        "DeactivationResult",
        "GeneratedActivationKey",
        "LeaseCheck",
        "LeaseGrant",
        "LeaseLostReason",
        "LeaseStatus",
        "OfflineKeyPayload",
        "OfflineValidationResult",
        "SeatUsage",
        "SmartValidationResult",
        "ValidationResult",
        "ValidationStatus",
    ),
}
_LAZY = {name: module for module, names in _SOURCES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name in __all__:  # an exception class
            module = "._exceptions"
        else:
            raise AttributeError(f"module 'exisone' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
