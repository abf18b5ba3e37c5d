"""Time named timers in worker processes, interleaved in rounds; return the samples."""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.stats import Sampler, interleaved_rounds
from benchmarks.worker import Worker

__all__ = ["time_in_workers"]


def _sampler(worker: Worker, timer: str, number: int) -> Sampler:
    def sample() -> float:
        seconds: float = worker.call("time", timer=timer, number=number)["seconds"]
        return seconds

    return sample


def time_in_workers(
    contenders: Mapping[str, tuple[Worker, str]], rounds: int, min_batch_seconds: float
) -> dict[str, list[float]]:
    """Calibrate each ``name: (worker, timer)`` to batches of ``min_batch_seconds``, then sample
    every contender once per round; each sample is the mean seconds per call of one batch."""
    samplers = {}
    for name, (worker, timer) in contenders.items():
        number = int(worker.call("calibrate", timer=timer, min_seconds=min_batch_seconds)["number"])
        samplers[name] = _sampler(worker, timer, number)
    return interleaved_rounds(samplers, rounds)
