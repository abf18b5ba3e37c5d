"""Every Python example of docs/client.md and of the package's README (its PyPI page) runs,
against a tiny local HTTP server (real sockets)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from exisone._dates import format_datetime
from exisone._offline import load_private_key
from exisone._sealed import open_request, seal_answer
from exisone.protocol import issue_lease_token

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "client.md"
README = ROOT / "packages" / "client" / "README.md"
VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "offline_code_rsa1024.json").read_text()
)


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


EXAMPLES = [
    (f"{page.name} example {index}", code)
    for page in (DOC, README)
    for index, code in enumerate(python_blocks(page), 1)
]

ANSWERS = {
    "/api/license/activate": {"serverVersion": "1.0.0"},
    "/api/license/validate": {
        "isValid": True,
        "status": "licensed",
        "expirationDate": "2030-01-01T00:00:00Z",
        "features": ["Pro", "Export"],
    },
    "/api/license/deactivate": {},
    "/api/activationkey/generate": {"activationKey": "ABCD-1234-EFGH-5678", "isCorporate": False},
    "/api/license/features/csv": {"features": "Pro,Export"},
    "/api/support/ticket": {},
}
USAGE = {"currentSeats": 3, "maxSeats": 10, "hasCapacity": True, "isUnlimited": False}
CONSUMED = {
    "allowed": True,
    "remaining": 97,
    "limit": 100,
    "used": 3,
    "resetAt": None,
    "retryAfter": None,
}
QUOTA = {
    "isApiLicense": True,
    "limit": 100,
    "used": 3,
    "remaining": 97,
    "callsThisMinute": 3,
    "usage": [{"date": "2030-01-01", "calls": 3}],
}


def _lease(path: str, request: bytes) -> dict[str, Any]:
    """The lease endpoints' answers, the token signed with the vector's key (the tenant's)."""
    asked = json.loads(request)
    if path.endswith("/release"):
        return {"success": True, "leaseId": asked["leaseId"]}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    hours = asked.get("borrowHours")
    ttl = hours * 3600 if hours else asked.get("ttlSeconds") or 300
    expires = now + timedelta(seconds=ttl)
    token = issue_lease_token(
        lease_id="lease_1",
        tenant_id=1,
        activation_key=asked.get("activationKey", ""),
        hardware_id=asked.get("hardwareId", ""),
        product_name=asked.get("productName", "MyProduct"),
        features=["Pro"],
        issued_at=now,
        expires_at=expires,
        borrowed=bool(hours),
        private_key=load_private_key(VECTOR["private_key_pem"]),
    )
    return {
        "leaseId": "lease_1",
        "expiresAt": format_datetime(expires),
        "leaseToken": token,
        "seatsInUse": 1,
        "maxSeats": 5,
        "features": ["Pro"],
        "borrowed": bool(hours),
        "ttlSeconds": ttl,
    }


def _sealed(request: bytes) -> dict[str, str]:
    """validate-encrypted's answer, sealed as the server does (the vector's key is the
    tenant's here)."""
    private_key = load_private_key(VECTOR["private_key_pem"])
    payload = base64.b64decode(json.loads(request)["payload"])
    opened = open_request(payload, private_key, lambda _: private_key)
    assert opened.key is not None
    answer = json.dumps(ANSWERS["/api/license/validate"]).encode()
    return {"payload": base64.b64encode(seal_answer(opened.key, payload, answer)).decode()}


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = self.rfile.read(length)
        body = USAGE if self.path.endswith("/usage") else ANSWERS.get(self.path)
        if "/quota" in self.path:
            body = QUOTA
        elif self.path == "/api/license/consume":
            body = CONSUMED
        elif self.path == "/api/license/validate-encrypted":
            body = _sealed(request)
        elif self.path.startswith("/api/license/lease"):
            body = _lease(self.path, request)
        data = json.dumps(body).encode() if body is not None else b'{"error":"not_found"}'
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_pages_have_examples() -> None:
    assert len(python_blocks(DOC)) >= 14
    assert len(python_blocks(README)) == 1


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_runs(
    name: str, code: str, server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = code.replace("http://127.0.0.1:8000", server_url).replace(
        "http://127.0.0.1:8001", server_url
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXISONE_BASEURL", raising=False)
    (tmp_path / "tenant-public-key.pem").write_text(VECTOR["public_key_pem"])
    (tmp_path / "tenant-public-keys.pem").write_text(VECTOR["public_key_pem"])  # every key
    (tmp_path / "offline-code.txt").write_text(VECTOR["code"])
    if "asyncio.run(" in code:
        # Own process: asyncio.run() in this one would unset the event loop pytest-asyncio keeps.
        subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True)
        return
    exec(compile(code, name, "exec"), {"__name__": "__example__"})
