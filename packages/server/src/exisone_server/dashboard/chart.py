"""A small inline SVG bar chart of daily counts, drawn on the server (no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

__all__ = ["Bar", "Chart", "Day", "daily_chart"]

WIDTH = 600
HEIGHT = 160
_TOP = 10
_BOTTOM = 20


class Day(Protocol):
    """A day of a chart: its date, and a count per kind as an attribute of that name."""

    @property
    def day(self) -> date: ...


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    label: str
    kind: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    maximum: int
    first_label: str
    last_label: str
    baseline: float


def daily_chart(days: Sequence[Day], kinds: Sequence[str] = ("activations", "trials")) -> Chart:
    """One bar per day for each of ``kinds`` (attributes of the days, e.g. DailyCount's),
    scaled to the largest count."""
    values = [[int(getattr(day, kind)) for kind in kinds] for day in days]
    maximum = max([1, *(value for row in values for value in row)])
    slot = WIDTH / max(len(days), 1)
    bar = max(slot / len(kinds) - 1, 1)
    usable = HEIGHT - _TOP - _BOTTOM
    baseline = HEIGHT - _BOTTOM
    bars: list[Bar] = []
    for index, (day, row) in enumerate(zip(days, values)):
        for offset, (kind, value) in enumerate(zip(kinds, row)):
            height = usable * value / maximum
            bars.append(
                Bar(
                    x=round(index * slot + offset * bar, 2),
                    width=round(bar, 2),
                    y=round(baseline - height, 2),
                    height=round(height, 2),
                    label=f"{day.day.isoformat()}: {value} {kind}",
                    kind=kind,
                )
            )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        maximum=maximum,
        first_label=days[0].day.isoformat() if days else "",
        last_label=days[-1].day.isoformat() if days else "",
        baseline=baseline,
    )
