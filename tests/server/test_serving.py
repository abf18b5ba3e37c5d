"""``serve``'s checks before granian starts, and the app each worker builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from exisone_server import serving


def _key_file(tmp_path: Path, encryption: serialization.KeySerializationEncryption) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def test_unencrypted_pem_keys_of_every_common_form_are_accepted(tmp_path: Path) -> None:
    certificate = trustme.CA().issue_cert("127.0.0.1")  # SEC1 "EC PRIVATE KEY"
    sec1 = tmp_path / "sec1.pem"
    certificate.private_key_pem.write_to_path(str(sec1))
    assert serving.tls_key_problem(str(sec1)) is None
    assert serving.tls_key_problem(str(_key_file(tmp_path, serialization.NoEncryption()))) is None


def test_an_encrypted_key_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = _key_file(tmp_path, serialization.BestAvailableEncryption(b"secret"))
    assert "is encrypted" in str(serving.tls_key_problem(str(path)))


def test_a_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cert.pem"
    trustme.CA().issue_cert("127.0.0.1").cert_chain_pems[0].write_to_path(str(path))
    assert "not a PEM private key" in str(serving.tls_key_problem(str(path)))
    assert "cannot read" in str(serving.tls_key_problem(str(tmp_path / "missing.pem")))


@pytest.mark.parametrize(
    ("level", "on"), [("debug", True), ("info", True), ("warning", False), ("error", False)]
)
def test_the_access_log_is_on_up_to_info(level: str, on: bool) -> None:
    assert serving.logs_access(level) is on


@pytest.mark.parametrize(
    ("level", "asked", "written"),
    [
        ("info", "text", "text"),
        ("debug", "json", "json"),
        ("info", "off", "off"),
        ("warning", "json", "off"),
    ],
)
def test_the_access_log_form_follows_the_option_up_to_info(
    level: str, asked: str, written: str
) -> None:
    options = serving.ServeOptions("m:f", "127.0.0.1", 1, log_level=level, access_log=asked)
    assert serving.access_log_form(options).value == written


async def _seen_through(
    monkeypatch: pytest.MonkeyPatch,
    trusted: str,
    client: str,
    headers: list[tuple[bytes, bytes]],
    kind: str = "http",
) -> tuple[object, object]:
    """What the app built by ``load_app`` sees as client and scheme behind ``trusted``."""
    seen: list[tuple[object, object]] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append((scope["client"], scope["scheme"]))

    monkeypatch.delenv(serving.SUPERVISOR_PID, raising=False)  # never prctl the test process
    monkeypatch.setattr(serving, "_test_app", lambda: app, raising=False)
    monkeypatch.setenv("EXISONE_FORWARDED_ALLOW_IPS", trusted)
    loaded = serving.load_app("exisone_server.serving:_test_app")
    scheme = "ws" if kind == "websocket" else "http"
    await loaded(
        {"type": kind, "client": (client, 5000), "scheme": scheme, "headers": headers}, None, None
    )
    return seen[0]


FORWARDED = [(b"x-forwarded-for", b"198.51.100.9"), (b"x-forwarded-proto", b"https")]


@pytest.mark.parametrize(
    ("trusted", "client", "headers", "expected"),
    [
        ("10.0.0.0/8", "10.1.2.3", FORWARDED, (("198.51.100.9", 0), "https")),
        ("10.0.0.0/8", "192.0.2.1", FORWARDED, (("192.0.2.1", 5000), "http")),
        (
            "127.0.0.1",
            "127.0.0.1",
            [(b"x-forwarded-proto", b"https")],
            (("127.0.0.1", 5000), "https"),
        ),
        ("10.0.0.1, *", "192.0.2.1", FORWARDED, (("198.51.100.9", 0), "https")),
        (
            "127.0.0.1, 10.0.0.0/8",
            "127.0.0.1",
            [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7, 10.0.0.5")],
            (("203.0.113.7", 0), "http"),
        ),
        (
            "127.0.0.1",
            "127.0.0.1",
            [(b"x-forwarded-proto", b"javascript")],
            (("127.0.0.1", 5000), "http"),
        ),
    ],
    ids=[
        "trusted",
        "untrusted",
        "proto-alone",
        "star-in-list",
        "nearest-untrusted-hop",
        "bad-proto",
    ],
)
async def test_forwarded_headers_count_only_from_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
    trusted: str,
    client: str,
    headers: list[tuple[bytes, bytes]],
    expected: tuple[object, object],
) -> None:
    assert await _seen_through(monkeypatch, trusted, client, headers) == expected


async def test_a_websocket_behind_a_tls_proxy_is_wss(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = await _seen_through(monkeypatch, "127.0.0.1", "127.0.0.1", FORWARDED, "websocket")
    assert seen == (("198.51.100.9", 0), "wss")


def test_a_supervisor_that_is_this_process_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Free-threaded granian runs workers as threads: the supervisor must not kill itself."""
    import os

    monkeypatch.setenv(serving.SUPERVISOR_PID, str(os.getpid()))
    serving.die_with_supervisor()  # returns; the test process is still here


async def test_access_lines_are_written_together_shortly_after_their_requests() -> None:
    """One ``write`` for the lines of many requests, at most FLUSH_SECONDS after the first
    (or at once when FLUSH_LINES wait), each stamped when its request ended."""
    import asyncio
    import os
    import re

    from exisone_server.kit import access_log

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    with os.fdopen(write_end, "w") as stream:
        batch = access_log._Batch(stream, access_log._text_stamped)
        for n in range(3):
            batch.add(f"line {n}")
        with pytest.raises(BlockingIOError):
            os.read(read_end, 65536)  # nothing written yet
        await asyncio.sleep(access_log.FLUSH_SECONDS + 0.05)
        written = os.read(read_end, 65536).decode().splitlines()
        assert [line.split(" ", 1)[1] for line in written] == ["line 0", "line 1", "line 2"]
        stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
        assert all(stamp.match(line) for line in written)

        for n in range(access_log.FLUSH_LINES):
            batch.add(f"many {n}")
        many = os.read(read_end, 1 << 20).decode().splitlines()  # written at once
        assert len(many) == access_log.FLUSH_LINES
        batch.flush()  # nothing left: no write, no error
    os.close(read_end)
