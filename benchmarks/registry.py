"""The registry of benchmark groups. A group is a function from a run context to table rows.

A new group (e.g. the server load tests) is a module that calls :func:`register` at import
time and is listed in :data:`GROUP_MODULES`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.results import CaseResult

__all__ = ["GROUP_MODULES", "Group", "RunContext", "all_groups", "register"]

#: Modules that register groups when imported, in the order the groups run.
GROUP_MODULES = (
    "benchmarks.client",
    "benchmarks.server",
    "benchmarks.mail",
    "benchmarks.payments",
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunContext:
    """What a group needs to know about the run it is part of."""

    repo_root: Path = REPO_ROOT
    quick: bool = False
    #: Overrides a group's own number of rounds when set.
    rounds: int | None = None
    verbose: bool = True
    #: Facts a group adds to the machine description (interpreters, library versions).
    machine_details: dict[str, object] = field(default_factory=dict)

    def rounds_or(self, full: int, quick: int) -> int:
        """The number of rounds: the override, else ``quick`` in quick mode, else ``full``."""
        if self.rounds is not None:
            return self.rounds
        return quick if self.quick else full

    def log(self, message: str) -> None:
        """Progress on stderr (stdout is kept for the table)."""
        if self.verbose:
            print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Group:
    """A named set of cases, measured together by ``run``."""

    name: str
    description: str
    run: Callable[[RunContext], list[CaseResult]]


_GROUPS: dict[str, Group] = {}


def register(
    name: str, description: str
) -> Callable[[Callable[[RunContext], list[CaseResult]]], Callable[[RunContext], list[CaseResult]]]:
    """Decorator: register ``run`` as the group ``name``."""

    def decorate(
        run: Callable[[RunContext], list[CaseResult]],
    ) -> Callable[[RunContext], list[CaseResult]]:
        if name in _GROUPS:
            raise ValueError(f"benchmark group {name!r} is registered twice")
        _GROUPS[name] = Group(name, description, run)
        return run

    return decorate


def all_groups() -> dict[str, Group]:
    """Every registered group by name, in registration order (imports the group modules)."""
    for module in GROUP_MODULES:
        importlib.import_module(module)
    return dict(_GROUPS)
