"""Fixtures for every test folder (minimal: tests/client runs on Python 3.9 with pytest only)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _exisone_state_in_a_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our clients keep state (last-known-good answers, the trusted-time mark, the deactivation
    outbox) in the per-user data directory by default: each test gets a fresh one instead, also
    for the subprocesses it starts (they inherit the environment)."""
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("exisone-state")))
