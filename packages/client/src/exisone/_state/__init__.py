"""What the client keeps on disk between runs: last-known-good answers, the trusted-time mark,
and the deactivation outbox. One directory per user (``platformdirs``), or ``state_dir=``."""

from ._mark import TimeMark
from ._outbox import Outbox, OutboxEntry
from ._records import LastKnownGood, RecordStore
from ._store import StateDir, resolve_state_dir

__all__ = [
    "LastKnownGood",
    "Outbox",
    "OutboxEntry",
    "RecordStore",
    "StateDir",
    "TimeMark",
    "resolve_state_dir",
]
