"""Client state in a fresh folder for each test; the user's EXISONE_* settings are hidden."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_client_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EXISONE_BASEURL", "EXISONE_TOKEN", "EXISONE_HARDWARE_ID", "EXISONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("client-state")))
