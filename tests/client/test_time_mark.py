"""The trusted-time mark file: read only when it changed, looked at again after a second."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exisone._state import StateDir, TimeMark
from exisone._state import _mark as mark_module

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def test_another_processs_advance_is_seen_after_the_recheck_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("exisone._state._mark.time.monotonic", lambda: clock[0])
    ours, theirs = TimeMark(StateDir(tmp_path)), TimeMark(StateDir(tmp_path))
    assert ours.load() is None

    theirs.advance(T0)
    assert ours.load() is None  # within the interval: the value we had
    clock[0] += mark_module.RECHECK_SECONDS
    assert ours.load() == T0

    theirs.advance(T0 + timedelta(days=1))
    clock[0] += mark_module.RECHECK_SECONDS
    assert ours.load() == T0 + timedelta(days=1)


def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("exisone._state._mark.time.monotonic", lambda: clock[0])
    mark = TimeMark(StateDir(tmp_path))
    mark.advance(T0)
    reads: list[int] = []
    real_read = mark._read

    def counted_read() -> datetime | None:
        reads.append(1)
        return real_read()

    monkeypatch.setattr(mark, "_read", counted_read)

    for _ in range(5):
        clock[0] += mark_module.RECHECK_SECONDS
        assert mark.load() == T0

    assert len(reads) == 1  # then only stat() saw the same file


def test_own_advance_is_seen_at_once(tmp_path: Path) -> None:
    mark = TimeMark(StateDir(tmp_path))
    assert mark.load() is None
    mark.advance(T0)
    assert mark.load() == T0
    mark.advance(T0 - timedelta(days=1))  # never backwards
    assert mark.load() == T0
