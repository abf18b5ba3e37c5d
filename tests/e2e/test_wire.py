"""The raw wire over TLS, as any client sees it: camelCase, dates, error bodies."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .conftest import Demo, Server

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EMAIL = "user@example.com"


def test_validate_bodies_use_camel_case_and_plain_utc_dates(
    server: Server, demo: Demo, hardware_id: Callable[[], str]
) -> None:
    device = hardware_id()
    body = {"activationKey": demo.single_key, "hardwareId": device, "productName": "DemoApp"}
    with server.publisher(demo.token) as http:
        assert http.post("/api/license/activate", json={**body, "email": EMAIL}).is_success
        licensed = http.post("/api/license/validate", json=body).json()
        release = {"licenseKey": demo.single_key, "hardwareId": device, "productName": "DemoApp"}
        assert http.post("/api/license/deactivate", json=release).is_success
        after = http.post("/api/license/validate", json=body).json()
        trial = http.post("/api/license/validate", json={**body, "activationKey": ""}).json()
    assert licensed["isValid"] is True
    assert licensed["status"] == "licensed"
    assert licensed["expirationDate"] == "2049-12-31T23:59:59Z"
    assert licensed["features"] == demo.features
    assert (after["status"], after["reason"]) == ("invalid", "not_activated")
    assert DATE.match(after["expirationDate"])
    assert (trial["status"], trial["reason"]) == ("invalid", "device_previously_activated")
    assert DATE.match(trial["expirationDate"])


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/api/license/validate", b"{not json", 400),
        ("POST", "/api/license/validate", b'{"hardwareId": 5}', 400),
        ("POST", "/api/license/validate", b"[]", 400),
        ("POST", "/api/license/activate", b'{"activationKey": "A"}', 400),
        ("POST", "/api/license/deactivate", b'{"hardwareId": ""}', 400),
        ("GET", "/api/no/such/route", None, 404),
        ("GET", "/api/license/NOPE-NOPE-NOPE-NOPE/usage", None, 404),
    ],
)
def test_bad_requests_get_a_json_4xx(
    server: Server, method: str, path: str, content: bytes | None, status: int
) -> None:
    with server.publisher() as http:
        reply = http.request(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]


def test_a_bad_token_gets_401_with_the_scheme(server: Server) -> None:
    with server.publisher("exo_at_nosuchtoken_secret") as http:
        reply = http.post("/api/license/validate", json={"activationKey": "", "hardwareId": "H"})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == "ExisOneApi"
    assert reply.json()["error"]
