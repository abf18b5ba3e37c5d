"""Result records for one benchmark run, their verdicts, and the JSON file they are saved to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CaseResult",
    "RunResult",
    "Status",
    "Target",
    "error_case",
    "evaluate",
    "skipped_case",
    "write_json",
]


class Status:
    """The verdict of one case. A missed target is ``FAIL``; a case that could not run is
    ``ERROR``; ``SKIP`` means a prerequisite (e.g. the server) is absent; ``INFO`` has no target."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    ERROR = "ERROR"
    INFO = "INFO"


@dataclass(frozen=True)
class Target:
    """A speed target: ``ratio <= max_ratio`` or ``measured seconds <= max_seconds``."""

    description: str
    max_ratio: float | None = None
    max_seconds: float | None = None

    def met(self, measured: float, ratio: float | None) -> bool:
        """Whether ``measured`` (seconds) and ``ratio`` meet every bound this target sets."""
        if self.max_ratio is not None and (ratio is None or ratio > self.max_ratio):
            return False
        return self.max_seconds is None or measured <= self.max_seconds


def evaluate(target: Target | None, measured: float, ratio: float | None) -> str:
    """The status of a measured case: ``INFO`` without a target, else ``PASS`` or ``FAIL``."""
    if target is None:
        return Status.INFO
    return Status.PASS if target.met(measured, ratio) else Status.FAIL


@dataclass
class CaseResult:
    """One row of the table: a measured figure, what it is compared with, and the verdict.

    Times are seconds per operation (medians over interleaved rounds).
    """

    group: str
    case: str
    measured_label: str
    measured: float | None
    reference_label: str
    reference: float | None
    ratio: float | None
    target: Target | None
    status: str
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def error_case(group: str, case: str, target: Target | None, message: str) -> CaseResult:
    """A case that could not be measured (missing code, crashed worker): status ``ERROR``."""
    return CaseResult(group, case, "", None, "", None, None, target, Status.ERROR, message)


def skipped_case(group: str, case: str, target: Target | None, reason: str) -> CaseResult:
    """A case whose prerequisite is absent: status ``SKIP`` with the reason."""
    return CaseResult(group, case, "", None, "", None, None, target, Status.SKIP, reason)


@dataclass
class RunResult:
    """Everything one ``python -m benchmarks`` run measured."""

    command: str
    started_utc: str
    quick: bool
    machine: dict[str, Any]
    groups: list[str]
    cases: list[CaseResult] = field(default_factory=list)

    def cases_of(self, group: str) -> list[CaseResult]:
        """The cases of one group, in the order they were measured."""
        return [case for case in self.cases if case.group == group]

    @property
    def errors(self) -> list[CaseResult]:
        """Cases that could not be measured: these make the command exit non-zero."""
        return [case for case in self.cases if case.status == Status.ERROR]


def write_json(run: RunResult, path: Path) -> None:
    """Save ``run`` as indented JSON (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(run), indent=2, sort_keys=False) + "\n", encoding="utf-8")
