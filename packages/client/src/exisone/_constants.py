"""Named constants of the SDK: defaults, retry limits, wire names, user-visible messages."""

from __future__ import annotations

__all__: list[str] = []

#: Environment variable read when no base URL is given (all official SDKs use it).
ENV_BASE_URL = "EXISONE_BASEURL"
#: The authorization scheme word: ``Authorization: ExisOneApi <token>``.
AUTH_SCHEME = "ExisOneApi"
#: Host names (besides 127.0.0.0/8 and ::1) that may use plain http:// for development.
LOOPBACK_NAMES = frozenset({"localhost"})

#: Seconds to wait for a connection, and for the answer, unless told otherwise.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0

#: How many times a failed call is repeated (so at most 1 + 2 attempts).
DEFAULT_MAX_RETRIES = 2
#: Backoff before the first repetition; it doubles each time, up to MAX_RETRY_DELAY.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A share of each backoff delay is random, so that many clients do not retry in step.
RETRY_JITTER = 0.25
#: A server's Retry-After hint above this many seconds ends the retrying (the error is raised
#: with ``retry_after`` set) instead of blocking the caller that long.
MAX_RETRY_AFTER_DELAY = 20.0
#: HTTP statuses worth repeating for idempotent calls.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

#: The background server sync of validate_smart: one attempt, this many seconds at most.
SMART_SYNC_TIMEOUT = 5.0

# Literal messages of exisone-client 0.10.0, kept for parity.
MSG_OFFLINE_NOT_CONFIGURED = "Offline validation not configured. Set offline_public_key in options."
MSG_CODE_REQUIRED = "Offline code is required"
MSG_HARDWARE_ID_REQUIRED = "Hardware ID is required"
MSG_HARDWARE_MISMATCH = "Hardware ID mismatch. This code is bound to a different machine."
MSG_EXPIRED = "License has expired"
MSG_UNREACHABLE_NO_OFFLINE = "Server unreachable and no offline validation available"
MSG_DEACTIVATED_LOCALLY = (
    "License deactivated locally. Server will be notified when connection is restored."
)
MSG_NETWORK_ERROR = "Network error: {}"
# Our own messages.
MSG_OFFLINE_CODE_WITHDRAWN = (
    "The license server no longer accepts this offline code on this machine (its seat was "
    "released, or the license was revoked, suspended or shortened)"
)
MSG_CHECK_IN_DUE = (
    "This license must be confirmed online every {days} days: connect to the internet and "
    "check again."
)
MSG_NO_EXPIRATION = "Offline code has no valid expiration date"
MSG_PRODUCT_MISMATCH = "This code is for the product {actual!r}, not {expected!r}"
MSG_OFFLINE_CODE_NOT_SENT = (
    "Offline code deactivated locally; the server could not be told ({reason})."
)
#: ActivationResult.error_code when the server could not be reached.
NETWORK_ERROR_CODE = "network_error"
