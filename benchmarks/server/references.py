"""Every server case as a ratio to the bare ASGI answer of the same worker count.

The bare answer (:mod:`.bare_app` under the same granian) is what a worker process can answer
at most on the host of the run; nginx is the machine's ceiling and the stack's fixed answer
(:mod:`.fixed_app`) the framework's. A case is listed in :data:`RATIO_CASES` by the key of its
load configuration; a run reports a ratio row for each listed case it measured, so a new case
(a lease heartbeat, say) needs only its configuration under a listed key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from benchmarks.results import CaseResult, Status, Target

__all__ = [
    "BARE_LABEL",
    "BARE_TARGET",
    "RATIO_CASES",
    "LoadFigures",
    "RatioCase",
    "bare_key",
    "cpu_note",
    "ratio_row",
    "ratio_rows",
]

#: The app the bare configurations serve (``granian ... benchmarks.server.bare_app:app``).
BARE_TARGET = "benchmarks.server.bare_app:app"
BARE_LABEL = "bare ASGI"
BACKEND_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class LoadFigures(Protocol):
    """What a measured load configuration reports (``benchmarks.server.cases.Contender``)."""

    @property
    def rate(self) -> float: ...

    @property
    def p99(self) -> float: ...

    @property
    def errors(self) -> int: ...

    @property
    def cpu(self) -> float | None: ...

    def summary(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class RatioCase:
    """A case shown as a ratio to the bare answer: ``key`` and ``name`` are templates with
    ``{db}`` (``sqlite``/``postgresql``) and ``{DB}`` (its label) and ``{workers}``."""

    key: str
    name: str
    #: The least ratio the case must reach (None: reported for context).
    floor: float | None = None


#: The cases beyond validate (whose rows carry their targets) reported against the bare answer.
RATIO_CASES: tuple[RatioCase, ...] = (
    RatioCase("{db}-activate-w{workers}", "activation throughput {DB}, {workers} workers"),
    RatioCase("{db}-heartbeat-w{workers}", "lease heartbeat {DB}, {workers} workers"),
    RatioCase("{db}-consume-w{workers}", "consume {DB}, {workers} workers"),
)


def bare_key(workers: int) -> str:
    """The key of the bare configuration with ``workers`` workers."""
    return f"bare-w{workers}"


def _rate_text(rate: float) -> str:
    return f"{rate:,.0f} req/s"


def cpu_note(ours: LoadFigures, reference: LoadFigures, reference_label: str) -> str:
    """``; CPU/request 120 µs (bare ASGI 40 µs)`` when both CPU figures are known: the
    servers' CPU per request moves far less with the host's other work than their rates."""
    if ours.cpu is None or reference.cpu is None:
        return ""
    return f"; CPU/request {ours.cpu * 1e6:.0f} µs ({reference_label} {reference.cpu * 1e6:.0f} µs)"


def ratio_row(
    group: str,
    name: str,
    ours: LoadFigures,
    reference: LoadFigures,
    *,
    reference_label: str = BARE_LABEL,
    floor: float | None = None,
    extra_target: str = "",
    extra_ok: bool = True,
) -> CaseResult:
    """``ours`` ÷ ``reference`` in requests per second, with the target ``≥ floor×`` and no
    errors when ``floor`` is set (``extra_target``/``extra_ok``: a further condition)."""
    ratio = ours.rate / reference.rate
    target = None
    status = Status.INFO
    if floor is not None:
        target = Target(f"≥ {floor:.2f}× {reference_label}, 0 errors{extra_target}")
        met = ratio >= floor and ours.errors == 0 and extra_ok
        status = Status.PASS if met else Status.FAIL
    return CaseResult(
        group,
        f"{name} ÷ {reference_label}",
        "",
        1.0 / ours.rate,
        reference_label,
        1.0 / reference.rate,
        ratio,
        target,
        status,
        f"p99 {ours.p99 * 1e3:.1f} ms ({reference_label} {reference.p99 * 1e3:.1f} ms), "
        f"{ours.errors} errors{cpu_note(ours, reference, reference_label)}",
        {
            "display": {
                "measured": _rate_text(ours.rate),
                "reference": f"{reference_label} {_rate_text(reference.rate)}",
            },
            "ours": ours.summary(),
            "reference": reference.summary(),
        },
    )


def ratio_rows(
    group: str,
    measured: Mapping[str, LoadFigures],
    backends: Iterable[str],
    *,
    workers: int = 2,
    cases: Iterable[RatioCase] = RATIO_CASES,
) -> list[CaseResult]:
    """A row for each case of ``cases`` whose configuration ``measured`` holds, as a ratio to
    ``measured[bare_key(workers)]``."""
    bare = measured.get(bare_key(workers))
    if bare is None:
        return []
    rows = []
    for case in cases:
        for backend in backends:
            fill = {"db": backend, "DB": BACKEND_LABEL[backend], "workers": workers}
            ours = measured.get(case.key.format(**fill))
            if ours is not None:
                name = case.name.format(**fill)
                rows.append(ratio_row(group, name, ours, bare, floor=case.floor))
    return rows
