"""Signed answers, grace, clock rollback and the outbox against the real server over HTTPS.

The server is the session's ``exisone-server serve``; the tests that need it down stop it and
start it again (same port, same database) before they end.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from exisone import AnswerSignatureError, ExisOneClient, ValidationStatus
from exisone.protocol import canonical_message, parse_signature_header

from .conftest import Demo, Server

EMAIL = "user@example.com"


class Recorder(httpx.BaseTransport):
    """Real HTTPS underneath; keeps every answer, can replay one or rewrite answers."""

    def __init__(self, ca_path: Path) -> None:
        self.inner = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(ca_path)))
        self.answers: list[httpx.Response] = []
        self.replay: httpx.Response | None = None
        self.rewrite: Callable[[httpx.Response], httpx.Response] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.replay is not None:
            r = self.replay
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)
        response = self.inner.handle_request(request)
        response.read()
        if self.rewrite is not None:
            response = self.rewrite(response)
        self.answers.append(response)
        return response

    def close(self) -> None:
        self.inner.close()


def make_client(server: Server, demo: Demo, state_dir: Path, **options: Any) -> ExisOneClient:
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "access_token": demo.token,
        "offline_public_key": demo.public_key,
        "verify": str(server.tls.ca_path),
        "state_dir": state_dir,
        **options,
    }
    return ExisOneClient(**settings)


def fingerprint(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@contextmanager
def server_down(server: Server) -> Iterator[None]:
    server.stop()
    try:
        yield
    finally:
        server.start()


@contextmanager
def black_hole(port: int) -> Iterator[None]:
    """A socket that listens on ``port`` but never accepts: connections hang unanswered."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(0)
        yield


def test_answers_are_signed_only_when_asked(server: Server, demo: Demo) -> None:
    body = {"activationKey": demo.single_key, "hardwareId": "HW-SIGNED-1"}
    nonce = "n" * 22
    with server.publisher(demo.token) as http:
        plain = http.post("/api/license/validate", json=body)
        signed = http.post("/api/license/validate", json=body, headers={"ExisOne-Nonce": nonce})
        bad_nonce = http.post("/api/license/validate", json=body, headers={"ExisOne-Nonce": "x"})
    assert "exisone-signature" not in plain.headers
    assert "exisone-signature" not in bad_nonce.headers
    assert plain.json() == signed.json()
    signature = parse_signature_header(signed.headers["exisone-signature"])
    assert signature.key_id == fingerprint(demo.public_key)
    assert signature.algorithm == "rsa-pkcs1v15-sha256"
    assert abs(signature.timestamp - datetime.now(timezone.utc).timestamp()) < 60
    request_body = signed.request.content
    message = canonical_message(
        method="POST",
        path="/api/license/validate",
        nonce=nonce,
        timestamp=signature.timestamp,
        status=200,
        request_digest=hashlib.sha256(request_body).hexdigest(),
        response_digest=hashlib.sha256(signed.content).hexdigest(),
    )
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(demo.public_key.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature.signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_error_answers_are_signed_but_a_401_cannot_be(server: Server, demo: Demo) -> None:
    headers = {"ExisOne-Nonce": "e" * 22}
    body = {"activationKey": "NO-SUCH-KEY", "hardwareId": "HW-1", "productName": "X"}
    with server.publisher(demo.token) as http:
        refused = http.post("/api/license/activate", json=body, headers=headers)
        unauthenticated = http.post(
            "/api/license/activate",
            json=body,
            headers={**headers, "Authorization": "ExisOneApi exo_at_nope_nope"},
        )
    assert refused.status_code == 404 and "exisone-signature" in refused.headers
    assert unauthenticated.status_code == 401
    assert "exisone-signature" not in unauthenticated.headers


def test_our_client_verifies_activate_validate_deactivate(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    device = hardware_id()
    recorder = Recorder(server.tls.ca_path)
    with make_client(server, demo, tmp_path, transport=recorder) as client:
        assert client.activate(demo.single_key, EMAIL, device, demo.product_name).success
        assert client.validate(demo.single_key, device, demo.product_name).is_valid
        assert client.deactivate(demo.single_key, device, demo.product_name)
    assert len(recorder.answers) == 3
    assert all("exisone-signature" in answer.headers for answer in recorder.answers)


def test_a_replayed_valid_answer_after_revocation_is_rejected(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    device = hardware_id()
    recorder = Recorder(server.tls.ca_path)
    with make_client(server, demo, tmp_path, transport=recorder) as client:
        assert client.activate(demo.single_key, EMAIL, device, demo.product_name).success
        assert client.validate(demo.single_key, device).is_valid
        recorded_valid = recorder.answers[-1]
        with server.publisher(demo.token) as http:
            assert http.post(f"/api/license/{demo.single_key}/revoke").status_code == 200
        revoked = client.validate(demo.single_key, device)
        assert not revoked.is_valid and revoked.status == ValidationStatus.INVALID
        recorder.replay = recorded_valid
        with pytest.raises(AnswerSignatureError, match="does not verify"):
            client.validate(demo.single_key, device)
        # validate_smart treats the forgery like no server: no grace (the record is gone).
        smart = client.validate_smart(demo.single_key, device)
        assert not smart.is_valid and smart.was_offline


def test_a_tampered_answer_is_rejected(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    device = hardware_id()
    recorder = Recorder(server.tls.ca_path)

    def claim_valid(response: httpx.Response) -> httpx.Response:
        content = response.content.replace(b'"isValid":false', b'"isValid":true')
        content = content.replace(b'"status":"invalid"', b'"status":"licensed"')
        assert content != response.content
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    recorder.rewrite = claim_valid
    client = make_client(server, demo, tmp_path, transport=recorder)
    with client, pytest.raises(AnswerSignatureError):
        client.validate(demo.single_key, device)  # not activated here: invalid, made valid


def test_a_stripped_signature_is_refused_once_the_server_has_signed(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    """The default mode against the real server: after one signed answer, a proxy that removes
    the signature and claims "valid" is refused, by this client and by one started later."""
    device = hardware_id()
    recorder = Recorder(server.tls.ca_path)

    def strip_and_claim_valid(response: httpx.Response) -> httpx.Response:
        content = response.content.replace(b'"isValid":false', b'"isValid":true')
        content = content.replace(b'"status":"invalid"', b'"status":"licensed"')
        headers = [(k, v) for k, v in response.headers.items() if k != "exisone-signature"]
        return httpx.Response(response.status_code, headers=headers, content=content)

    with make_client(server, demo, tmp_path, transport=recorder) as client:
        assert not client.validate(demo.single_key, device).is_valid  # signed, not activated
        recorder.rewrite = strip_and_claim_valid
        with pytest.raises(AnswerSignatureError, match="signed its answers before"):
            client.validate(demo.single_key, device)
    restarted = make_client(server, demo, tmp_path, transport=recorder)
    with restarted, pytest.raises(AnswerSignatureError, match="signed its answers before"):
        restarted.validate(demo.single_key, device)
    with make_client(
        server, demo, tmp_path, transport=recorder, require_signed_answers=False
    ) as old_behaviour:
        assert old_behaviour.validate(demo.single_key, device).is_valid  # what False accepts


def test_grace_with_the_server_stopped_closed_and_black_holed(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    device = hardware_id()
    with make_client(server, demo, tmp_path, timeout=1.0, max_retries=0) as client:
        assert client.activate(demo.single_key, EMAIL, device, demo.product_name).success
        online = client.validate_smart(demo.single_key, device, demo.product_name)
        assert online.is_valid and not online.was_offline
        with server_down(server):
            stopped = client.validate_smart(demo.single_key, device, demo.product_name)
            assert stopped.is_valid and stopped.was_offline
            assert stopped.grace_remaining is not None
            assert timedelta(days=6) < stopped.grace_remaining <= timedelta(days=7)
            assert stopped.last_online_check is not None
            with black_hole(server.port):
                hung = client.validate_smart(demo.single_key, device, demo.product_name)
                assert hung.is_valid and hung.was_offline
            # The clock turned back two days: no grace, clock_tampered.
            rolled = make_client(
                server,
                demo,
                tmp_path,
                timeout=1.0,
                max_retries=0,
                clock=lambda: datetime.now(timezone.utc) - timedelta(days=2),
            )
            with rolled:
                tampered = rolled.validate_smart(demo.single_key, device, demo.product_name)
            assert tampered.status == ValidationStatus.CLOCK_TAMPERED and not tampered.is_valid
            # Eight days later the grace period is over.
            later = make_client(
                server,
                demo,
                tmp_path,
                timeout=1.0,
                max_retries=0,
                clock=lambda: datetime.now(timezone.utc) + timedelta(days=8),
            )
            with later:
                over = later.validate_smart(demo.single_key, device, demo.product_name)
            assert not over.is_valid and over.status == ValidationStatus.OFFLINE


def test_unreachable_without_a_record_is_offline(
    demo: Demo, server: Server, tmp_path: Path, hardware_id: Callable[[], str]
) -> None:
    from tests.support import free_port

    port = free_port()  # nothing listens: a closed port
    base_url = f"https://127.0.0.1:{port}"
    with make_client(server, demo, tmp_path, base_url=base_url, timeout=0.5) as client:
        result = client.validate_smart(demo.single_key, hardware_id())
        assert result.status == ValidationStatus.OFFLINE and result.grace_remaining is None
        with black_hole(port):
            hung = client.validate_smart(demo.single_key, hardware_id())
            assert hung.status == ValidationStatus.OFFLINE


def test_outbox_delivers_a_deactivation_after_an_outage(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    devices = [hardware_id() for _ in range(demo.corporate_seats)]
    with make_client(server, demo, tmp_path, timeout=1.0, max_retries=0) as client:
        for device in devices:
            assert client.activate(demo.corporate_key, EMAIL, device, demo.product_name).success
        assert client.get_seat_usage(demo.corporate_key).current_seats == len(devices)
        with server_down(server):
            queued = client.deactivate_smart(demo.corporate_key, devices[0], demo.product_name)
            assert queued.success and not queued.server_notified
        assert len(list((tmp_path / "outbox").glob("*.json"))) == 1
        # The next successful contact delivers it.
        assert client.validate_smart(demo.corporate_key, devices[1], demo.product_name).is_valid
        assert list((tmp_path / "outbox").glob("*.json")) == []
        assert client.get_seat_usage(demo.corporate_key).current_seats == len(devices) - 1
        assert client.flush_outbox() == 0
        # Delivering the same deactivation again (a second process) is done, not an error.
        assert client.deactivate(demo.corporate_key, devices[0], demo.product_name)


def test_offline_code_names_its_key_and_detects_rollback(
    server: Server, demo: Demo, hardware_id: Callable[[], str], tmp_path: Path
) -> None:
    device = hardware_id()
    code = server.issue_offline_code(demo.single_key, device)
    with make_client(server, demo, tmp_path) as client:
        checked = client.validate_offline(code, device)
        assert checked.is_valid and checked.issued_at is not None
    from exisone.protocol import load_public_keys, verify_offline_code

    payload = verify_offline_code(code, load_public_keys(demo.public_key)).payload
    assert payload["kid"] == fingerprint(demo.public_key)
    rolled = make_client(
        server, demo, tmp_path, clock=lambda: datetime.now(timezone.utc) - timedelta(days=1)
    )
    with rolled:
        result = rolled.validate_smart(code, device)
    assert result.status == ValidationStatus.CLOCK_TAMPERED
