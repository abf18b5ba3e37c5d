"""Dashboard tests: the server test fixtures (both databases), reused here.

The in-process tests (``test_*_unit.py``) use ``tests/server``'s fixtures (``seed`` gives a
fresh tenant per test) and helpers.py. The browser tests (test_browser.py) start the real server.
"""

from __future__ import annotations

import pytest

from ..server.conftest import (  # noqa: F401  (fixtures)
    app,
    backend,
    client,
    database,
    empty_settings,
    master_key,
    postgres_url,
    seed,
    settings,
)


@pytest.fixture(autouse=True)
def _no_login_limit_per_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process request comes from 127.0.0.1; the per-IP login limit (security module)
    would count the failures of all tests together. The per-account pacing stays."""
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_IP", "0")
