"""Resilience and trust, without I/O of its own beyond small state files.

* Signed answers: adds the nonce to validate/activate/deactivate calls and checks the answer;
  an unsigned answer is refused when ``require_signed_answers`` is True, or (None, the default)
  once the server has answered signed before (:mod:`._state._signing_servers`).
* Last known good: keeps the newest verified valid answer; answers from it for a grace period
  when the server cannot be reached.
* Clock rollback: a high-water mark of trusted (signed) time; a local clock behind it by more
  than the tolerance gives ``clock_tampered``.
* Outbox: deactivations that could not be delivered.

Used by :class:`~exisone._core.ClientCore`; both clients call it the same way.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ._exceptions import AnswerSignatureError, APIError, TransportError
from ._models import OfflineValidationResult, SmartValidationResult, ValidationStatus
from ._state._mark import TimeMark, rolled_back
from ._state._outbox import Outbox, OutboxEntry
from ._state._records import RecordStore, SignedAnswer
from ._state._signing_servers import SigningServers
from ._state._store import StateDir, StateDirOption, resolve_state_dir
from ._state._withdrawn import WithdrawnCodes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from . import _parsing as parse
    from ._core import Call
    from ._state._borrowed import BorrowedLeases

__all__: list[str] = []

T = TypeVar("T")
logger = logging.getLogger("exisone")

Clock = Callable[[], datetime]

#: An answer's signed time may differ from the local clock by this much.
DEFAULT_ANSWER_TIME_TOLERANCE = timedelta(minutes=5)
DEFAULT_GRACE_PERIOD = timedelta(days=7)
DEFAULT_CLOCK_TOLERANCE = timedelta(hours=1)
#: A client that validates often rewrites its record and mark at most this often (they serve
#: day-long grace periods and an hour's tolerance; a write per call would cost an fsync each).
REWRITE_INTERVAL = timedelta(seconds=60)

MSG_CLOCK_TAMPERED = (
    "This computer's clock is behind the last trusted time ({trusted}); correct the date and "
    "time and try again."
)
MSG_GRACE = "Server unreachable; licensed from the last online check ({checked}), {left} left."
MSG_GRACE_OVER = "Server unreachable and the offline grace period ended on {ended}."
MSG_CHECK_IN = (
    "Server unreachable and this license must be checked online every {days} days: connect "
    "to the internet and try again."
)
MSG_RECORD_EXPIRED = "Server unreachable and the license expired on {expired}."


@dataclass(frozen=True)
class GuardSettings:
    """The options of this module (part of the client's settings)."""

    verify_answers: bool = True
    #: True: always; None: once the server has signed an answer; False: never.
    require_signed_answers: bool | None = None
    state_dir: StateDirOption = None
    use_keyring: bool = False
    grace_period: timedelta = DEFAULT_GRACE_PERIOD
    clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE
    answer_time_tolerance: timedelta = DEFAULT_ANSWER_TIME_TOLERANCE
    clock: Clock | None = None


class Guard:
    """The per-client policy object; state files are opened on first use."""

    def __init__(
        self, options: GuardSettings, base_url: str, public_keys: tuple[RSAPublicKey, ...] | None
    ) -> None:
        self.options = options
        self.base_url = base_url
        self.public_keys = public_keys
        self._store: StateDir | bool | None = False  # False: not resolved yet
        self._time_mark: TimeMark | None = None
        self._mark_written: datetime | None = None
        self._saved: dict[tuple[str, str], datetime] = {}
        self._signing_servers: SigningServers | None = None
        self._withdrawn: WithdrawnCodes | None = None
        self._borrowed: BorrowedLeases | None = None

    # -- time and state ------------------------------------------------------------------------

    def now(self) -> datetime:
        clock = self.options.clock
        moment = clock() if clock is not None else datetime.now(timezone.utc)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    @property
    def store(self) -> StateDir | None:
        if self._store is False:
            root = resolve_state_dir(self.options.state_dir)
            self._store = StateDir(root) if root is not None else None
        return self._store if isinstance(self._store, StateDir) else None

    def _mark(self) -> TimeMark | None:
        store = self.store
        if store is None:
            return None
        if self._time_mark is None:
            self._time_mark = TimeMark(store)  # one per client: it caches the file's value
        return self._time_mark

    def _records(self) -> RecordStore | None:
        if not self.public_keys:
            return None
        if self.options.use_keyring:
            from ._state._keyring import KeyringRecords

            return RecordStore(KeyringRecords(), self.base_url)
        store = self.store
        return RecordStore(store, self.base_url) if store else None

    def outbox(self) -> Outbox | None:
        store = self.store
        return Outbox(store, self.base_url) if store else None

    def _trust(self, moment: datetime) -> None:
        written = self._mark_written
        if written is not None and moment < written + REWRITE_INTERVAL:
            return
        mark = self._mark()
        if mark is not None:
            self._mark_written = moment
            try:
                mark.advance(moment)
            except OSError as error:
                logger.debug("trusted-time mark not saved: %s", error)

    def _tampered(self, now: datetime, *trusted: datetime | None) -> datetime | None:
        mark = self._mark()
        stored = mark.load() if mark else None
        return rolled_back(now, [stored, *trusted], self.options.clock_tolerance)

    # -- signed answers ------------------------------------------------------------------------

    def signing_servers(self) -> SigningServers:
        """Whether this server has answered signed before (kept in the state directory)."""
        if self._signing_servers is None:
            from ._answer_signature import key_id

            keys = [key_id(key) for key in self.public_keys or ()]
            self._signing_servers = SigningServers(self.store, self.base_url, keys)
        return self._signing_servers

    def withdrawn_codes(self) -> WithdrawnCodes:
        """Offline codes the server withdrew on this machine (kept in the state directory)."""
        if self._withdrawn is None:
            self._withdrawn = WithdrawnCodes(self.store, self.base_url)
        return self._withdrawn

    def borrowed_leases(self) -> BorrowedLeases:
        """Lease tokens borrowed for offline use (kept in the state directory)."""
        if self._borrowed is None:
            from ._state._borrowed import BorrowedLeases

            self._borrowed = BorrowedLeases(self.store, self.base_url)
        return self._borrowed

    def clock_behind(self, now: datetime, *signed: datetime | None) -> datetime | None:
        """The trusted time ``now`` is behind by more than the tolerance, or None."""
        return self._tampered(now, *signed) if self.store is not None else None

    def clock_message(self, trusted: datetime) -> str:
        return MSG_CLOCK_TAMPERED.format(trusted=_iso(trusted))

    def trust_signed(self, signed: datetime, now: datetime) -> None:
        """A signed time that is not in the future moves the trusted-time mark."""
        if signed <= now:
            self._trust(signed)

    def _unsigned_refusal(self) -> str | None:
        """Why an unsigned answer is refused, or None when it is accepted."""
        required = self.options.require_signed_answers
        if required:
            return "the answer is not signed (require_signed_answers=True)"
        if required is None and self.signing_servers().known():
            return (
                "the answer is not signed, but this server has signed its answers before: "
                "something between the client and the server removed the signature"
            )
        return None

    @property
    def signing(self) -> bool:
        return bool(self.public_keys) and self.options.verify_answers

    def signed(self, call: Call[T], on_verified: Callable[[SignedAnswer, T], None]) -> Call[T]:
        """``call`` with a fresh nonce header and a parser that checks the signature first."""
        if not self.signing:
            return call
        from ._answer_signature import NONCE_HEADER, new_nonce

        nonce = new_nonce()
        inner = call.parse

        def parse_verified(reply: parse.Reply) -> T:
            answer = self.verify(call, nonce, reply)
            result = inner(reply)
            if answer is not None:
                on_verified(answer, result)
            return result

        return replace(call, headers=(*call.headers, (NONCE_HEADER, nonce)), parse=parse_verified)

    def verify(self, call: Call[Any], nonce: str, reply: parse.Reply) -> SignedAnswer | None:
        """The checked answer; None when unsigned and allowed; else AnswerSignatureError."""
        from ._answer_signature import SIGNATURE_HEADER, verify_answer

        header = reply.headers.get(SIGNATURE_HEADER)
        if header is None:
            # Before authentication the server cannot know whose key to sign with: a 401 is
            # unsigned. A forged one only denies service, which a man in the middle can anyway.
            refusal = self._unsigned_refusal() if reply.status_code != 401 else None
            if refusal is not None:
                raise AnswerSignatureError(refusal)
            return None
        assert self.public_keys
        signature = verify_answer(
            header,
            self.public_keys,
            method=call.method,
            path=call.path,
            nonce=nonce,
            status=reply.status_code,
            request_body=call.body or b"",
            response_body=reply.content,
        )
        server_time = datetime.fromtimestamp(signature.timestamp, timezone.utc)
        now = self.now()
        self._trust(server_time)  # authentic and fresh (our nonce): trusted time
        self.signing_servers().remember(server_time)
        skew = abs(server_time - now)
        if skew > self.options.answer_time_tolerance:
            raise AnswerSignatureError(
                f"the answer's signed time differs from this computer's clock by {skew}"
            )
        return SignedAnswer(
            call.method,
            call.path,
            nonce,
            call.body or b"",
            reply.status_code,
            reply.content,
            header,
            server_time,
        )

    def remember(self, answer: SignedAnswer, is_valid: bool) -> None:
        """Keep a verified valid validation answer as the last known good (or drop the old)."""
        records = self._records()
        if records is None:
            return
        asked = json.loads(answer.request_body)
        key, hwid = str(asked.get("activationKey") or ""), str(asked.get("hardwareId") or "")
        from ._offline import is_offline_code

        if not key.strip() or is_offline_code(key):
            return  # a trial has no key; an offline code needs no grace (it is checked locally)
        saved = self._saved.get(_slot(key, hwid))
        if is_valid and saved is not None and answer.server_time < saved + REWRITE_INTERVAL:
            return
        try:
            if is_valid:
                records.save(key, hwid, answer)
                self._saved[_slot(key, hwid)] = answer.server_time
            else:
                records.forget(key, hwid)
                self._saved.pop(_slot(key, hwid), None)
        except OSError as error:
            logger.debug("last-known-good record not saved: %s", error)

    # -- validate_smart when the server is unreachable -----------------------------------------

    def unreachable(
        self, activation_key: str, hardware_id: str, product_name: str | None, error: Exception
    ) -> SmartValidationResult | None:
        """A grace result from the last known good, or ``clock_tampered``; None: plain offline."""
        records = self._records()
        if records is None:
            return None
        now = self.now()
        record = records.load(activation_key, hardware_id, self.public_keys or ())
        last = record.server_time if record else None
        trusted = self._tampered(now, last)
        if trusted is not None:
            return SmartValidationResult(
                is_valid=False,
                status=ValidationStatus.CLOCK_TAMPERED,
                was_offline=True,
                error_message=MSG_CLOCK_TAMPERED.format(trusted=_iso(trusted)),
                product_name=product_name,
                last_online_check=last,
            )
        if record is None:
            return None
        if product_name and not _same_product(record.product_name, product_name):
            return None
        result = record.result
        common: dict[str, Any] = {
            "expiration_date": result.expiration_date,
            "features": list(result.features),
            "was_offline": True,
            "product_name": product_name,
            "last_online_check": record.server_time,
        }
        expires = result.grace_until or result.expiration_date  # the server's grace counts
        if expires is not None and expires < now:
            return SmartValidationResult(
                is_valid=False,
                status=ValidationStatus.EXPIRED,
                error_message=MSG_RECORD_EXPIRED.format(expired=_iso(expires)),
                **common,
            )
        ends = record.server_time + self.options.grace_period
        if result.check_in_days is not None:
            check_in = record.server_time + timedelta(days=result.check_in_days)
            if now >= check_in:
                return SmartValidationResult(
                    is_valid=False,
                    status=ValidationStatus.CHECK_IN_REQUIRED,
                    error_message=MSG_CHECK_IN.format(days=result.check_in_days),
                    grace_remaining=timedelta(0),
                    **common,
                )
            ends = min(ends, check_in)
        if now >= ends:
            return SmartValidationResult(
                is_valid=False,
                status=ValidationStatus.OFFLINE,
                error_message=MSG_GRACE_OVER.format(ended=_iso(ends)),
                grace_remaining=timedelta(0),
                **common,
            )
        return SmartValidationResult(
            is_valid=True,
            status=result.status,
            error_message=MSG_GRACE.format(checked=_iso(record.server_time), left=ends - now),
            grace_remaining=ends - now,
            **common,
        )

    # -- offline codes -------------------------------------------------------------------------

    def check_offline_clock(
        self, result: OfflineValidationResult, now: datetime
    ) -> OfflineValidationResult:
        """A valid code checked at ``now`` (this moment) while the clock is behind trusted
        time: not valid. A code's signed issue time that is not in the future moves the mark."""
        if not result.is_valid or self.store is None:
            return result
        issued = result.issued_at
        trusted = self._tampered(now, issued)
        if trusted is not None:
            return replace(
                result,
                is_valid=False,
                clock_tampered=True,
                error_message=MSG_CLOCK_TAMPERED.format(trusted=_iso(trusted)),
            )
        if issued is not None and issued <= now:
            self._trust(issued)
        return result

    # -- outbox --------------------------------------------------------------------------------

    def queue_deactivation(self, license_key: str, hardware_id: str, product_name: str) -> bool:
        """Keep a deactivation for later delivery; False when state is disabled or unwritable."""
        outbox = self.outbox()
        if outbox is None:
            return False
        try:
            outbox.add(license_key, hardware_id, product_name, self.now())
        except OSError as error:
            logger.warning("deactivation could not be queued: %s", error)
            return False
        return True

    def forget(self, activation_key: str, hardware_id: str) -> None:
        """A deactivated key gets no grace: drop its last known good."""
        self._saved.pop(_slot(activation_key, hardware_id), None)
        records = self._records()
        if records is not None:
            try:
                records.forget(activation_key, hardware_id)
            except OSError as error:
                logger.warning("last-known-good record not removed: %s", error)

    def activated(self, activation_key: str, hardware_id: str) -> None:
        """A new activation supersedes a queued deactivation of the same key and machine."""
        outbox = self.outbox()
        if outbox is not None:
            outbox.discard(activation_key, hardware_id)

    def pending_deactivations(self) -> list[OutboxEntry]:
        outbox = self.outbox()
        return outbox.pending() if outbox else []

    def delivered(self, entry: OutboxEntry, error: Exception | None) -> bool:
        """Remove ``entry`` when the server has it (or refused it for good); True if removed."""
        if error is None or _final_refusal(error):
            outbox = self.outbox()
            if outbox is not None:
                outbox.done(entry)
            return True
        return False


def _final_refusal(error: Exception) -> bool:
    """A 4xx that repeating will not change (not a token, timeout or rate-limit problem)."""
    if isinstance(error, (TransportError, AnswerSignatureError)):
        return False
    if isinstance(error, APIError):
        return 400 <= error.status_code < 500 and error.status_code not in (401, 403, 408, 429)
    return False


def _slot(activation_key: str, hardware_id: str) -> tuple[str, str]:
    return activation_key.strip(), hardware_id.strip().upper()


def _same_product(recorded: str | None, asked: str) -> bool:
    """The record must name the product asked about (from the request or the answer)."""
    return recorded is not None and recorded.strip().casefold() == asked.strip().casefold()


def _iso(moment: datetime) -> str:
    from ._dates import format_datetime

    return format_datetime(moment)


def guard_settings(
    *,
    verify_answers: bool,
    require_signed_answers: bool | None,
    state_dir: StateDirOption,
    grace_period: timedelta,
    clock_tolerance: timedelta,
    clock: Clock | None,
    use_keyring: bool = False,
) -> GuardSettings:
    """Check the resilience options of a client constructor."""
    from ._exceptions import ConfigurationError

    for name, value in (("grace_period", grace_period), ("clock_tolerance", clock_tolerance)):
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ConfigurationError(f"{name} must be a timedelta >= 0, got {value!r}")
    if require_signed_answers not in (None, True, False):
        raise ConfigurationError(
            f"require_signed_answers must be None, True or False, got {require_signed_answers!r}"
        )
    if require_signed_answers and not verify_answers:
        raise ConfigurationError("require_signed_answers needs verify_answers=True")
    if clock is not None and not callable(clock):
        raise ConfigurationError("clock must be a callable returning an aware datetime")
    if use_keyring and importlib.util.find_spec("keyring") is None:
        raise ConfigurationError(
            "use_keyring=True needs the keyring package: pip install 'exisone[keyring]'"
        )
    return GuardSettings(
        verify_answers=verify_answers,
        require_signed_answers=require_signed_answers,
        state_dir=state_dir,
        use_keyring=use_keyring,
        grace_period=grace_period,
        clock_tolerance=clock_tolerance,
        clock=clock,
    )
