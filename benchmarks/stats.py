"""Interleaved rounds and medians: the one way every group turns timings into figures.

The host is shared and noisy. Each round therefore samples every contender
once, in a rotating order, so a slow spell spreads over all of them; the figures are medians
over the rounds, and the ratios compare numbers from the same run only.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence

__all__ = ["Sampler", "interleaved_rounds", "median", "paired_differences", "ratio"]

#: Takes one sample and returns it (seconds per operation).
Sampler = Callable[[], float]


def median(samples: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    if not samples:
        raise ValueError("median of no samples")
    return float(statistics.median(samples))


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; a zero or negative denominator is a harness error."""
    if denominator <= 0:
        raise ValueError(f"ratio with a non-positive denominator ({denominator!r})")
    return numerator / denominator


def paired_differences(minuend: Sequence[float], subtrahend: Sequence[float]) -> list[float]:
    """Round-by-round ``minuend[i] - subtrahend[i]`` (both sampled in the same rounds)."""
    if len(minuend) != len(subtrahend):
        raise ValueError("paired samples must have the same number of rounds")
    return [a - b for a, b in zip(minuend, subtrahend)]


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """The order of the contenders in round ``round_index``: rotated by one each round."""
    if not names:
        return []
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


def interleaved_rounds(
    samplers: Mapping[str, Sampler], rounds: int, *, warmup_rounds: int = 1
) -> dict[str, list[float]]:
    """Sample every contender once per round, rotating the order; return the samples by name.

    ``warmup_rounds`` rounds run first and are discarded (caches, lazy imports, connections).
    """
    if rounds < 1:
        raise ValueError("at least one round is needed")
    names = list(samplers)
    for index in range(warmup_rounds):
        for name in rotation(names, index):
            samplers[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in rotation(names, index):
            samples[name].append(samplers[name]())
    return samples
