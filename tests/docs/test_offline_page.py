"""The Python example of docs/offline.md runs with a code the server signed for this machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import exisone
from tests.examples.live_server import DemoServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "offline.md"


def test_the_example_accepts_a_real_code(
    server: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    with server.publisher() as http:
        key = http.post(
            "/api/activationkey/generate",
            json={
                "productName": server.product,
                "email": "o@example.com",
                "planId": server.demo["planId"],
            },
        ).json()["activationKey"]
        issued = http.post(
            "/api/license/offline-code",
            json={"activationKey": key, "hardwareId": exisone.generate_hardware_id()},
        )
    assert issued.status_code == 200, issued.text
    code = example.replace('"MyProduct"', f'"{server.product}"')
    namespace = {
        "PUBLIC_KEY_PEM": server.demo["publicKeyPem"],
        "code": issued.json()["offlineCode"],
    }

    exec(compile(code, DOC.name, "exec"), namespace)

    assert capsys.readouterr().out == (
        "licensed until 2049-12-31 23:59:59+00:00 features ['Export', 'Pro']\n"
    )
