"""The folder where ``serve``'s worker processes write their metrics.

:func:`metrics_folder` (in ``serve``, before the workers start) makes a private temporary
folder, names it in ``PROMETHEUS_MULTIPROC_DIR`` for the workers, and removes it when ``serve``
ends: each run starts from zero, as a single process would. A worker that died (and was
replaced by granian) leaves its files: its counts stay in the sums, as counts must, and its
gauges (pool use) are removed by the next worker that starts (:func:`forget_dead_workers`) and by
a worker when it stops.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .collect import MULTIPROCESS_DIR

__all__ = ["forget_dead_workers", "forget_worker", "metrics_folder"]

#: Files of gauges that only count while their process lives.
_LIVE_GAUGE = re.compile(r"gauge_live\w+?_(\d+)\.db")


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """A new private folder named in ``PROMETHEUS_MULTIPROC_DIR`` while the block runs."""
    folder = Path(tempfile.mkdtemp(prefix="exisone-metrics-"))  # mode 0700
    before = os.environ.get(MULTIPROCESS_DIR)
    os.environ[MULTIPROCESS_DIR] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(MULTIPROCESS_DIR, None)
        else:
            os.environ[MULTIPROCESS_DIR] = before
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_worker(folder: str, pid: int) -> None:
    """Remove the live gauges of process ``pid``."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def forget_dead_workers(folder: str) -> list[int]:
    """Remove the live gauges of processes that no longer run; their pids."""
    dead = sorted(
        {
            int(match.group(1))
            for name in os.listdir(folder)
            if (match := _LIVE_GAUGE.fullmatch(name)) and not _alive(int(match.group(1)))
        }
    )
    for pid in dead:
        forget_worker(folder, pid)
    return dead
