"""Customer portal tests: the server fixtures (both databases) for the in-process tests; the
browser tests (test_browser.py) start the real server, an SMTP server and Chromium."""

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
from ..server.payment_helpers import fake  # noqa: F401  (the local payment providers)


@pytest.fixture(autouse=True)
def _no_portal_limit_per_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process request comes from 127.0.0.1 and the database lives for the session: the
    per-IP limit would count every test's requests together. Tests of it use their own IP."""
    monkeypatch.setenv("EXISONE_PORTAL_REQUESTS_PER_IP", "0")
