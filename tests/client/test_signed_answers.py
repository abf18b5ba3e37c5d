"""Signed answers: the nonce goes out, the signature is checked, replays and forgeries fail."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from exisone import AnswerSignatureError, AuthenticationError, ConfigurationError, ExisOneClient
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "A" * 64


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return KeyPair.generate(1024)


@pytest.fixture(scope="module")
def other_keys() -> KeyPair:
    return KeyPair.generate(1024)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(keys: KeyPair, clock: FakeClock) -> FakeExisOneServer:
    return FakeExisOneServer(key_pair=keys, clock=clock)


def activated(fake: FakeExisOneServer, **license: Any) -> str:
    key = fake.add_license("App", **license).key
    fake.licenses[key].devices.add(HWID)
    return key


class Recorder(httpx.BaseTransport):
    """Passes requests to ``inner`` and keeps (request, response) pairs; can rewrite answers."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.replay: httpx.Response | None = None
        self.rewrite: Any = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.replay is not None:
            return httpx.Response(
                self.replay.status_code, headers=self.replay.headers, content=self.replay.content
            )
        response = self.inner.handle_request(request)
        response.read()
        if self.rewrite is not None:
            response = self.rewrite(response)
        self.exchanges.append((request, response))
        return response


def test_the_request_carries_a_fresh_nonce_and_the_answer_verifies(
    fake: FakeExisOneServer,
) -> None:
    key = activated(fake)
    with fake.client() as client:
        assert client.validate(key, HWID).is_valid
        assert client.validate(key, HWID).is_valid
    nonces = [r.headers["ExisOne-Nonce"] for r in fake.requests]
    assert len(set(nonces)) == 2
    assert all(len(base64.urlsafe_b64decode(n + "==")) == 16 for n in nonces)


def test_no_nonce_without_a_public_key_or_with_verification_off(
    fake: FakeExisOneServer, keys: KeyPair
) -> None:
    key = activated(fake)
    with fake.client(offline_public_key=None) as client:
        assert client.validate(key, HWID).is_valid
    with fake.client(verify_answers=False) as client:
        assert client.validate(key, HWID).is_valid
    assert all("ExisOne-Nonce" not in r.headers for r in fake.requests)


def test_a_replayed_answer_is_rejected(fake: FakeExisOneServer) -> None:
    key = activated(fake)
    recorder = Recorder(fake)
    with fake.client(transport=recorder) as client:
        assert client.validate(key, HWID).is_valid
        fake.revoke(key)
        assert not client.validate(key, HWID).is_valid  # the truth, signed
        recorder.replay = recorder.exchanges[0][1]  # the old "valid" answer, signature and all
        with pytest.raises(AnswerSignatureError, match="does not verify"):
            client.validate(key, HWID)


def test_a_tampered_body_status_or_signature_is_rejected(fake: FakeExisOneServer) -> None:
    key = activated(fake)
    recorder = Recorder(fake)

    def flip_to_valid(response: httpx.Response) -> httpx.Response:
        data = json.loads(response.content)
        data.update(isValid=True, status="licensed")
        return httpx.Response(200, headers=response.headers, content=json.dumps(data).encode())

    def other_status(response: httpx.Response) -> httpx.Response:
        return httpx.Response(201, headers=response.headers, content=response.content)

    def broken_signature(response: httpx.Response) -> httpx.Response:
        headers = dict(response.headers)
        head, _, sig = headers["exisone-signature"].rpartition("sig=")
        headers["exisone-signature"] = head + "sig=" + ("A" if sig[0] != "A" else "B") + sig[1:]
        return httpx.Response(response.status_code, headers=headers, content=response.content)

    fake.revoke(key)
    with fake.client(transport=recorder) as client:
        for rewrite in (flip_to_valid, other_status, broken_signature):
            recorder.rewrite = rewrite
            with pytest.raises(AnswerSignatureError):
                client.validate(key, HWID)


def test_an_answer_signed_by_an_untrusted_key_is_rejected(
    fake: FakeExisOneServer, other_keys: KeyPair
) -> None:
    key = activated(fake)
    client = fake.client(offline_public_key=other_keys.public_key_pem)
    with client, pytest.raises(AnswerSignatureError, match="not trusted"):
        client.validate(key, HWID)


def test_key_rotation_any_trusted_key_is_accepted(
    fake: FakeExisOneServer, keys: KeyPair, other_keys: KeyPair
) -> None:
    key = activated(fake)
    trusted = [other_keys.public_key_pem, keys.public_key_pem]  # the new key first, the old one
    with fake.client(offline_public_key=trusted) as client:
        assert client.validate(key, HWID).is_valid
    fake.key_pair = other_keys  # the publisher rotated
    with fake.client(offline_public_key=trusted) as client:
        assert client.validate(key, HWID).is_valid


def test_unsigned_answers_pass_from_a_server_that_never_signed_and_fail_when_required(
    fake: FakeExisOneServer,
) -> None:
    key = activated(fake)
    fake.sign_answers = False  # like exisone.com, which does not sign
    with fake.client() as client:
        assert client.validate(key, HWID).is_valid
        assert client.validate(key, HWID).is_valid
    with fake.client(require_signed_answers=True) as client:
        with pytest.raises(AnswerSignatureError, match="not signed"):
            client.validate(key, HWID)
        with pytest.raises(AnswerSignatureError, match="not signed"):
            client.activate(key, "a@b.c", HWID, "App")


def _strip_signature_and_say_valid(response: httpx.Response) -> httpx.Response:
    """A proxy's answer: the signature header removed, the body turned into "licensed"."""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "exisone-signature"}
    data = json.loads(response.content)
    data.update(isValid=True, status="licensed")
    return httpx.Response(200, headers=headers, content=json.dumps(data).encode())


def test_once_a_server_signed_an_unsigned_answer_is_refused_also_after_a_restart(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    """The default (``require_signed_answers=None``): trust on the first signed answer."""
    key = activated(fake)
    recorder = Recorder(fake)
    with fake.client(transport=recorder, state_dir=tmp_path) as client:
        assert client.validate(key, HWID).is_valid  # signed: the server is now known to sign
        fake.revoke(key)
        recorder.rewrite = _strip_signature_and_say_valid
        with pytest.raises(AnswerSignatureError, match="signed its answers before"):
            client.validate(key, HWID)
    with fake.client(transport=recorder, state_dir=tmp_path) as restarted:
        with pytest.raises(AnswerSignatureError, match="signed its answers before"):
            restarted.validate(key, HWID)
        with pytest.raises(AnswerSignatureError):
            restarted.deactivate(key, HWID, "App")
    # a 401 is never signed (the server does not know whose key to use): still let through
    with fake.client(transport=recorder, state_dir=tmp_path, access_token="exo_at_x_y") as wrong:
        recorder.rewrite = None
        with pytest.raises(AuthenticationError):
            wrong.validate(key, HWID)


def test_the_signing_fact_is_per_server_and_trusted_keys(
    fake: FakeExisOneServer, keys: KeyPair, other_keys: KeyPair, tmp_path: Path
) -> None:
    key = activated(fake)
    recorder = Recorder(fake)
    with fake.client(transport=recorder, state_dir=tmp_path) as client:
        assert client.validate(key, HWID).is_valid
    recorder.rewrite = _strip_signature_and_say_valid
    elsewhere = {"transport": recorder, "state_dir": tmp_path}
    with fake.client(base_url="https://other.example", **elsewhere) as other_server:
        assert other_server.validate(key, HWID).is_valid  # never signed: accepted
    two_keys = [keys.public_key_pem, other_keys.public_key_pem]
    with fake.client(offline_public_key=two_keys, **elsewhere) as other_trust:
        assert other_trust.validate(key, HWID).is_valid  # another set of trusted keys
    state = list((tmp_path / "signing-servers").glob("*.json"))
    assert len(state) == 1 and fake.base_url in state[0].read_text()


def test_require_signed_answers_false_accepts_unsigned_answers_as_before(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    key = activated(fake)
    recorder = Recorder(fake)
    with fake.client(transport=recorder, state_dir=tmp_path) as client:
        assert client.validate(key, HWID).is_valid
    fake.revoke(key)
    recorder.rewrite = _strip_signature_and_say_valid
    with fake.client(transport=recorder, state_dir=tmp_path, require_signed_answers=False) as off:
        assert off.validate(key, HWID).is_valid  # the proxy wins: what False means


def test_without_a_state_directory_the_fact_lasts_as_long_as_the_client(
    fake: FakeExisOneServer,
) -> None:
    key = activated(fake)
    recorder = Recorder(fake)
    with fake.client(transport=recorder, state_dir=False) as client:
        assert client.validate(key, HWID).is_valid
        recorder.rewrite = _strip_signature_and_say_valid
        with pytest.raises(AnswerSignatureError):
            client.validate(key, HWID)
    with fake.client(transport=recorder, state_dir=False) as fresh:
        assert fresh.validate(key, HWID).is_valid


def test_require_signed_answers_takes_none_true_or_false() -> None:
    with pytest.raises(ConfigurationError, match="None, True or False"):
        ExisOneClient(
            base_url="https://x.example",
            access_token="t",
            require_signed_answers="yes",  # type: ignore[arg-type]
        )


def test_require_signed_answers_needs_a_public_key() -> None:
    with pytest.raises(ConfigurationError, match="offline_public_key"):
        ExisOneClient(base_url="https://x.example", access_token="t", require_signed_answers=True)


def test_an_answer_time_far_from_the_local_clock_is_rejected_but_raises_the_mark(
    fake: FakeExisOneServer, keys: KeyPair, tmp_path: Path
) -> None:
    key = activated(fake)
    server_clock = FakeClock(START + timedelta(hours=3))
    fake.clock = server_clock
    client = fake.client(state_dir=tmp_path)
    with client, pytest.raises(AnswerSignatureError, match="clock"):
        client.validate(key, HWID)
    mark = json.loads((tmp_path / "clock" / "trusted-time.json").read_text())
    assert mark["trustedTime"] == "2026-03-01T15:00:00Z"


def test_signed_error_answers_are_verified_too(fake: FakeExisOneServer) -> None:
    recorder = Recorder(fake)

    def as_success(response: httpx.Response) -> httpx.Response:
        return httpx.Response(200, headers=response.headers, content=response.content)

    with fake.client(transport=recorder) as client:
        result = client.activate("NO-SUCH-KEY", "a@b.c", HWID, "App")
        assert result.error_code == "license_not_found"
        assert "exisone-signature" in recorder.exchanges[-1][1].headers
        recorder.rewrite = as_success  # a 404 passed off as a 200
        with pytest.raises(AnswerSignatureError):
            client.activate("NO-SUCH-KEY", "a@b.c", HWID, "App")
