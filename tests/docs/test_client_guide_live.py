"""Every Python example of docs/client.md also runs against a real exisone-server.

tests/client/test_docs_examples.py runs them against a stub HTTP server (the client's tests may
not import the server); here the placeholders become the demo tenant's real token, keys, product
and plan, the offline example gets a code the server signed for this machine, and what the
examples print is checked where it says something about the server's answer.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import exisone
from tests.examples.live_server import DemoServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def fresh_keys(server: DemoServer) -> dict[str, str]:
    """A new single-device key, a new 5-seat corporate key and a new API key (100 calls),
    through the publisher API."""
    keys = {}
    with server.publisher() as http:
        for name, plan in (("singleDeviceKey", "planId"), ("corporateKey", "corporatePlanId")):
            body = {"productName": server.product, "email": "guide@example.com"}
            answer = http.post(
                "/api/activationkey/generate", json={**body, "planId": server.demo[plan]}
            )
            assert answer.status_code == 200, answer.text
            keys[name] = answer.json()["activationKey"]
        answer = http.post(
            "/api/activationkey/generate",
            json={"productName": server.demo["apiProductName"], "email": "api@example.com"},
        )
        assert answer.status_code == 200, answer.text
        keys["apiKey"] = answer.json()["activationKey"]
    return keys


FLOATING_KEY = "FLOAT-0001-AAAA-BBBB"


def floating_key(server: DemoServer) -> str:
    """A new floating license of the demo's floating plan (``floatingPlanId``); skips while the
    server has no lease endpoints at all."""
    with server.publisher() as http:
        probe = http.post("/api/license/lease", json={})
    if probe.json().get("error") in ("not_found", "method_not_allowed"):  # no such route
        pytest.skip("this server has no lease endpoints (POST /api/license/lease)")
    plan = server.demo.get("floatingPlanId")
    assert plan, "the demo tenant needs a floating plan (floatingPlanId) for the lease examples"
    with server.publisher() as http:
        body = {"productName": server.product, "email": "guide@example.com", "planId": plan}
        answer = http.post("/api/activationkey/generate", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["activationKey"])


def real(code: str, server: DemoServer, keys: dict[str, str]) -> str:
    """The example with the placeholders of the page replaced by the test server's values."""
    replacements = {
        "http://127.0.0.1:8000": server.base_url,
        "http://127.0.0.1:8001": server.base_url,
        "exo_at_<public>_<secret>": server.token,
        "AAAA-BBBB-CCCC-DDDD": keys["singleDeviceKey"],
        "CORP-0001-AAAA-BBBB": keys["corporateKey"],
        "APIK-0000-0000-0001": keys["apiKey"],
        FLOATING_KEY: keys.get("floatingKey", FLOATING_KEY),
        '"MyProduct"': repr(server.product).replace("'", '"'),
        "plan_id=1": f"plan_id={server.demo['planId']}",
    }
    for placeholder, value in replacements.items():
        code = code.replace(placeholder, value)
    return code


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_runs_against_the_server(
    index: int,
    server: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = fresh_keys(server)
    if FLOATING_KEY in EXAMPLES[index]:
        keys["floatingKey"] = floating_key(server)
    code = real(EXAMPLES[index], server, keys)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tenant-public-key.pem").write_text(server.demo["publicKeyPem"])
    every_key = server.demo["publicKeyPem"] + server.demo["leasePublicKeyPem"]
    (tmp_path / "tenant-public-keys.pem").write_text(every_key)
    if "offline-code.txt" in code:
        with server.publisher() as http:
            issued = http.post(
                "/api/license/offline-code",
                json={
                    "activationKey": keys["singleDeviceKey"],
                    "hardwareId": exisone.generate_hardware_id(),
                },
            )
        assert issued.status_code == 200, issued.text
        (tmp_path / "offline-code.txt").write_text(issued.json()["offlineCode"])
    if "asyncio.run(" in code:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        printed = done.stdout
    else:
        exec(compile(code, f"{DOC.name} example {index + 1}", "exec"), {"__name__": "__doc__"})
        printed = capsys.readouterr().out
    if "client.activate(" in code and "elif" in code:
        assert printed.strip() == "activated"
    if "get_licensed_features(" in code:
        assert printed.splitlines() == ["['Export', 'Pro']", "Export,Pro"]
    if "get_seat_usage(" in code:
        assert printed.strip() == "0 5 5"
    if "client.consume(" in code:
        assert printed.splitlines() == ["allowed, 97 calls left", "3 of 100 [0, 0, 0, 0, 0, 0, 3]"]
    if "validate_encrypted(" in code:
        assert printed.strip() == "invalid"  # a new key, not activated on this machine
    if "validate_offline(" in code:
        assert printed.startswith(server.product + " 2049-12-31 23:59:59+00:00 ['Export', 'Pro']")
