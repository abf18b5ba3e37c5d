"""Request and response bodies of the API-key endpoints (docs/api.md, API keys)."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ..kit.wire import WireRequest, WireResponse

__all__ = ["ApiUsageDayRead", "ConsumeCalls", "ConsumeRead", "QuotaRead", "QuotaTopUp"]


class ConsumeCalls(WireRequest):
    activation_key: str
    #: Calls to spend (1 to 1,000,000,000).
    amount: int = 1


class ConsumeRead(WireResponse):
    """The answer of a consume; ``allowed`` false says why in ``reason``."""

    allowed: bool
    #: Calls left of the key's lifetime quota (after this consume when allowed).
    remaining: int
    #: Calls granted in all (plan or purchase, plus top-ups).
    limit: int
    used: int
    #: End of the current per-minute window (null: the key has no per-minute limit).
    reset_at: str | None
    #: Seconds until a refused consume may succeed (rate limit only; null otherwise).
    retry_after: int | None
    reason: str | None = None
    rate_limit_per_minute: int | None = None
    #: Calls left in the current minute (with a per-minute limit).
    rate_remaining: int | None = None


class ApiUsageDayRead(WireResponse):
    date: str
    calls: int


class QuotaRead(WireResponse):
    """A key's quota and its use; ``usage`` has one entry per UTC day, oldest first."""

    activation_key: str
    is_api_license: bool
    limit: int
    used: int
    remaining: int
    calls_this_minute: int
    reset_at: str | None
    usage: list[ApiUsageDayRead]
    rate_limit_per_minute: int | None = None


class QuotaTopUp(WireRequest):
    """Add calls to a key (a renewal, a purchase); optionally set its per-minute limit."""

    calls: int = 0
    #: Calls per minute; null removes the limit; left out keeps it.
    rate_limit_per_minute: int | UnsetType | None = UNSET
