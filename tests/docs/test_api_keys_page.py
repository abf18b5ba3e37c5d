"""The Python example of docs/api-keys.md serves and refuses with the real server's answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.examples.live_server import DemoServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-keys.md"


def test_the_example_spends_and_refuses(server: DemoServer) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    with server.publisher() as http:
        product = http.post(
            "/api/product",
            json={
                "name": "Guide API",
                "isApiProduct": True,
                "defaultApiCalls": 3,
                "apiRateLimitPerMinute": 1000,
            },
        )
        assert product.status_code == 201, product.text
        key = http.post(
            "/api/activationkey/generate",
            json={"productName": "Guide API", "email": "guide@example.com"},
        ).json()["activationKey"]
    namespace: dict[str, Any] = {"VERIFY_TOKEN": server.token}
    code = example.replace("https://licensing.example.com", server.base_url)
    exec(compile(code, DOC.name, "exec"), namespace)
    try:
        may_serve = namespace["may_serve"]
        assert may_serve(key, 2) == (True, {"X-RateLimit-Remaining": "1"})
        assert may_serve(key, 2) == (False, {"X-RateLimit-Remaining": "1"})  # all or nothing
        assert may_serve(key) == (True, {"X-RateLimit-Remaining": "0"})
    finally:
        namespace["licensing"].close()
