"""Construction: base URL rules, options vs keywords, timeouts, TLS trust, tokens, with_base_url."""

from __future__ import annotations

import copy
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from exisone import (
    AsyncExisOneClient,
    ConfigurationError,
    ExisOneClient,
    ExisOneClientOptions,
    HostNotAllowedError,
    InsecureBaseUrlError,
)
from exisone._options import resolve_base_url, resolve_timeout

from .conftest import FakeServer, reply, run


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://www.exisone.com", "https://www.exisone.com"),
        ("https://www.exisone.com/", "https://www.exisone.com"),
        ("HTTPS://Licensing.Example.com:8443/", "https://Licensing.Example.com:8443"),
        ("https://h.example/prefix", "https://h.example/prefix"),
        ("https://h.example/prefix///", "https://h.example/prefix"),
        ("  https://h.example  ", "https://h.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.45.6.7", "http://127.45.6.7"),
        ("HTTP://LOCALHOST:8000/x/", "http://LOCALHOST:8000/x"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_accepted_base_urls(given: str, expected: str) -> None:
    assert resolve_base_url(given, None) == expected


@pytest.mark.parametrize(
    "given",
    ["http://example.com", "http://10.0.0.1", "http://localhost.evil.com", "http://128.0.0.1"],
)
def test_plain_http_needs_a_loopback_host(given: str) -> None:
    with pytest.raises(InsecureBaseUrlError, match="must use HTTPS"):
        resolve_base_url(given, None)


@pytest.mark.parametrize(
    "given", ["ftp://h.example", "https://", "h.example", "https://h.example?x=1", "https://h:port"]
)
def test_malformed_base_urls(given: str) -> None:
    with pytest.raises(ConfigurationError):
        resolve_base_url(given, None)


def test_missing_base_url_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXISONE_BASEURL", raising=False)
    with pytest.raises(ConfigurationError, match="EXISONE_BASEURL"):
        resolve_base_url("", None)
    monkeypatch.setenv("EXISONE_BASEURL", "https://env.example/")
    assert resolve_base_url(None, None) == "https://env.example"
    assert resolve_base_url("https://option.example", None) == "https://option.example"


def test_allow_list_is_case_insensitive_and_errors_are_value_errors() -> None:
    assert (
        resolve_base_url("https://WWW.ExisOne.com", ["www.exisone.COM"])
        == "https://WWW.ExisOne.com"
    )
    with pytest.raises(HostNotAllowedError, match=r"evil\.com"):
        resolve_base_url("https://evil.com", ["www.exisone.com"])
    with pytest.raises(ValueError):
        resolve_base_url("https://evil.com", ["www.exisone.com"])
    assert resolve_base_url("https://any.example", []) == "https://any.example"


@pytest.mark.parametrize("cls", [ExisOneClient, AsyncExisOneClient])
def test_official_options_are_accepted_and_never_mutated(
    cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_BASEURL", "https://env.example")
    options = ExisOneClientOptions(
        access_token="exo_at_a_b", allowed_base_url_hosts=["env.example"]
    )
    before = copy.deepcopy(options)
    client = cls(options)
    assert options == before and options.base_url == ""
    assert repr(client) == f"<{cls.__name__} base_url='https://env.example'>"
    other = client.with_base_url("https://env.example/v2")
    assert other is not client
    assert repr(client) == f"<{cls.__name__} base_url='https://env.example'>"
    assert repr(other) == f"<{cls.__name__} base_url='https://env.example/v2'>"
    with pytest.raises(HostNotAllowedError):
        client.with_base_url("https://elsewhere.example")
    assert options == before


def test_options_and_the_same_keywords_together_are_refused() -> None:
    options = ExisOneClientOptions(base_url="https://h.example")
    with pytest.raises(TypeError, match="access_token"):
        ExisOneClient(options, access_token="exo_at_a_b")
    with pytest.raises(TypeError, match="timeout"):
        ExisOneClient(options, timeout=5)
    with pytest.raises(TypeError):
        ExisOneClient("https://h.example")  # type: ignore[arg-type]


def test_official_positional_options_defaults() -> None:
    options = ExisOneClientOptions()
    assert (options.base_url, options.access_token, options.offline_public_key) == ("", "", None)
    assert (options.allowed_base_url_hosts, options.timeout, options.hardware_id_override) == (
        None,
        30,
        None,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (30, (30.0, 30.0)),
        (2.5, (2.5, 2.5)),
        (None, (None, None)),
        ((3, 20), (3.0, 20.0)),
        ([3, None], (3.0, None)),
        (httpx.Timeout(5.0, connect=1.0), (1.0, 5.0)),
    ],
)
def test_timeout_forms(given: Any, expected: tuple[Any, Any]) -> None:
    assert resolve_timeout(given) == expected


@pytest.mark.parametrize("given", [True, "30", (1, 2, 3), object()])
def test_bad_timeout_types(given: Any) -> None:
    with pytest.raises(TypeError):
        resolve_timeout(given)


def test_non_positive_timeout() -> None:
    with pytest.raises(ConfigurationError):
        resolve_timeout((0, 5))


async def test_split_timeout_reaches_the_request(make_client: Callable[..., Any]) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"isValid": True})

    client = make_client(FakeServer(answer), timeout=(2, 9))
    await run(client.validate("K", "HW"))
    assert seen == [{"connect": 2.0, "read": 9.0, "write": 9.0, "pool": 2.0}]


async def test_default_timeout_is_split(make_client: Callable[..., Any]) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"isValid": True})

    client = make_client(FakeServer(answer))
    await run(client.validate("K", "HW"))
    assert seen[0]["connect"] == 10.0 and seen[0]["read"] == 30.0


@pytest.mark.parametrize(
    "token", ["exo_at_a b", "exo_at_ä_b", "exo_at_a\nb", "exo_at_a\tb", "exo_at_a\x00"]
)
def test_token_that_no_header_can_carry_is_refused(token: str) -> None:
    with pytest.raises(ConfigurationError, match="access_token"):
        ExisOneClient(base_url="https://h.example", access_token=token)


def test_max_retries_must_be_a_non_negative_integer() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigurationError):
            ExisOneClient(base_url="https://h.example", max_retries=bad)  # type: ignore[arg-type]


def self_signed_ca_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_verify_accepts_bool_context_and_ca_bundle_path(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(self_signed_ca_pem())
    for verify in (True, False, ssl.create_default_context(), str(bundle), bundle):
        ExisOneClient(base_url="https://h.example", verify=verify).close()
    with pytest.raises(ConfigurationError, match="CA bundle"):
        ExisOneClient(base_url="https://h.example", verify=str(tmp_path / "missing.pem"))


def test_bad_public_key_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="PEM"):
        ExisOneClient(base_url="https://h.example", offline_public_key="not a key")


async def test_with_base_url_client_sends_to_the_new_url_and_both_work(
    make_client: Callable[..., Any], kind: str
) -> None:
    server = FakeServer(reply(200, {"isValid": True}))
    first = make_client(server)
    second = first.with_base_url("https://other.example/base/")
    try:
        await run(second.validate("K", "HW"))
        await run(first.validate("K", "HW"))
    finally:
        if kind == "sync":
            second.close()
        else:
            await second.aclose()
    urls = [str(request.url) for request in server.requests]
    assert urls == [
        "https://other.example/base/api/license/validate",
        "https://licensing.example.com/api/license/validate",
    ]
