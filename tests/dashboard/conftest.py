"""Dashboard tests: the server test fixtures (both databases), reused here.

The in-process tests (``test_*_unit.py``) use ``tests/server``'s fixtures (``seed`` gives a
fresh tenant per test) and helpers.py. The browser tests (test_browser.py) start the real server.
"""

from __future__ import annotations

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
