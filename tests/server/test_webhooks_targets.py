"""Webhook targets (SSRF, both databases): refused URL forms at registration, and at delivery a
name resolved once, every address checked, the connection made to a checked address (a DNS
answer that changes afterwards is never connected to), TLS checked against the name, and a
refusal that tells the tenant only "target refused" (the detail is in the server log)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import trustme
from sqlalchemy import select, update

from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from exisone_server.webhooks import WebhookWorker

from .helpers import assert_error
from .seeding import Seed
from .test_webhooks import (  # the module's autouse fixtures apply here too
    FAST,
    _generate,
    _loopback_allowed,  # noqa: F401
    _no_endpoints_left,  # noqa: F401
    _register,
)
from .webhook_receiver import ConnectionCounter, Receiver, connection_counter, running_receiver

STRICT = FAST.with_changes(allow_http_loopback=False, timeout_seconds=2)
#: A public address (nothing listens on the test's ports there; the attempt just fails).
PUBLIC = "1.1.1.1"


class Resolver:
    """``socket.getaddrinfo`` with scripted answers for some names: each lookup of a name
    takes its next answer (the last one repeats); other names resolve as usual."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self._real = real
        self._answers: dict[str, list[str]] = {}
        self.lookups: dict[str, int] = {}

    def answer(self, name: str, *addresses: str) -> None:
        self._answers[name] = list(addresses)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self._answers:
            return self._real(host, port, *args, **kwargs)
        count = self.lookups.get(name, 0)
        self.lookups[name] = count + 1
        answers = self._answers[name]
        address = answers[min(count, len(answers) - 1)]
        number = int(port or 0)
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    scripted = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", scripted)
    return scripted


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _client_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


@contextmanager
def _https_receiver(authority: trustme.CA, name: str) -> Iterator[Receiver]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names only ``name``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    with running_receiver(context) as receiver:
        yield receiver


@contextmanager
def _second_loopback_trap(port: int) -> Iterator[ConnectionCounter]:
    """A connection counter on 127.0.0.2:``port`` (Linux routes all of 127/8 to loopback)."""
    try:
        trap = ConnectionCounter("127.0.0.2", port)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    try:
        yield trap
    finally:
        trap.close()


def _port(receiver: Receiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1])


def _worker(
    database: Database, master_key: MasterKey, authority: trustme.CA, *, strict: bool = False
) -> WebhookWorker:
    """A worker that trusts the test CA (and its connections go out as the server's do)."""
    transport = httpx.AsyncHTTPTransport(verify=_client_context(authority), trust_env=False)
    return WebhookWorker(database, master_key, STRICT if strict else FAST, transport=transport)


async def _last_delivery(database: Database) -> WebhookDelivery:
    async with database.read_session() as session:
        return (await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all()[
            -1
        ]


# -- registration -------------------------------------------------------------------------------


#: Refused however the server is set up.
NEVER = [
    "https://[::127.0.0.1]/hook",  # IPv4-compatible
    "https://[::ffff:0:a00:1]/hook",  # IPv4-translated 10.0.0.1
    "https://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/latest",  # NAT64 of 169.254.169.254
    "https://[64:ff9b:1::808:808]/hook",  # local-use NAT64 prefix
    "https://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
    "https://[2002:c0a8:101::1]/hook",  # 6to4 of 192.168.1.1
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
    "https://[fe80::1%25eth0]/hook",  # link-local with a zone
    "https://10.1/hook",  # 10.0.0.1, the short way
    "https://0xa9fea9fe/latest",  # 169.254.169.254 as one hex number
    "https://example.com/hook\r\nX-Injected: 1",
    "https://example.com/a\nb",
    "https://example.com/a b",
    "https://example.com/\x1b[31m",
    "https://example.com/hook#@evil.example",
    "https://example.com/hook#frag",
    "https://evil.example\\@example.com/",
    "https://bücher.example/hook",
    "https://example.com/\u202ehook",
]
#: Loopback in other words: refused unless EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK is set.
LOOPBACK = [
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "https://2130706433/hook",  # 127.0.0.1 as one number
    "https://0x7f.1/hook",
    "https://127.1/hook",
    "https://017700000001/hook",
    "https://localhost./hook",
    "https://api.localhost/hook",
]


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        *((url, False) for url in NEVER + LOOPBACK),
        *((url, True) for url in NEVER),
    ],
)
async def test_refused_at_registration(
    seed: Seed, monkeypatch: pytest.MonkeyPatch, url: str, allow: bool
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1" if allow else "0")
    assert_error(await seed.api.post("/api/webhook", {"url": url}), 400, "invalid_webhook_url")
    assert (await seed.api.get("/api/webhook")).json() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://[2606:4700:4700::1111]/hook",  # public IPv6
        "https://[64:ff9b::808:808]/hook",  # NAT64 of a public address
        "https://[2002:808:808::1]/hook",  # 6to4 of a public address
        "https://8.8.8.8:8443/hook?to=a@example.com",
        "https://xn--bcher-kva.example/hook",
    ],
)
async def test_public_addresses_and_names_are_accepted(
    seed: Seed, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "0")
    response = await seed.api.post("/api/webhook", {"url": url})
    assert response.status_code == 201, response.text
    assert response.json()["url"] == url


# -- delivery -----------------------------------------------------------------------------------


async def test_delivery_connects_to_the_address_that_was_checked(
    seed: Seed, master_key: MasterKey, resolver: Resolver, authority: trustme.CA
) -> None:
    """The name answers 127.0.0.1 when checked and 127.0.0.2 afterwards (rebinding): the
    delivery goes to 127.0.0.1, with the name in Host and TLS, and never to 127.0.0.2."""
    with (
        _https_receiver(authority, "hooks.test") as receiver,
        _second_loopback_trap(_port(receiver)) as trap,
    ):
        resolver.answer("hooks.test", "127.0.0.1", "127.0.0.2")
        await _register(seed, f"https://hooks.test:{trap.port}/hook", ["license.created"])
        await _generate(seed, await seed.product())
        assert await _worker(seed.database, master_key, authority).run_once() == 1
    assert trap.accepted == 0
    [received] = receiver.requests
    assert received.path == "/hook"
    assert received.headers["host"] == f"hooks.test:{trap.port}"
    assert resolver.lookups["hooks.test"] == 1
    assert (await _last_delivery(seed.database)).status is DeliveryStatus.DELIVERED


async def test_a_name_that_turns_to_loopback_after_the_check_is_never_connected(
    seed: Seed, master_key: MasterKey, resolver: Resolver, authority: trustme.CA
) -> None:
    """Strict settings: a public address at the check, 127.0.0.1 afterwards."""
    with connection_counter("127.0.0.1", 0) as trap:
        port = trap.port
        resolver.answer("rebind.test", PUBLIC, "127.0.0.1")
        await _register(seed, f"https://rebind.test:{port}/hook", ["license.created"])
        await _generate(seed, await seed.product())
        worker = _worker(seed.database, master_key, authority, strict=True)
        assert await worker.run_once() == 1
    assert trap.accepted == 0
    delivery = await _last_delivery(seed.database)
    assert delivery.status is DeliveryStatus.PENDING and delivery.last_status_code is None
    assert delivery.last_error and "target refused" not in delivery.last_error  # it was allowed


async def test_the_certificate_must_name_the_host(
    seed: Seed, master_key: MasterKey, resolver: Resolver, authority: trustme.CA
) -> None:
    """Connected by address, the TLS check is still against the URL's name."""
    with _https_receiver(authority, "other.test") as receiver:
        resolver.answer("hooks.test", "127.0.0.1")
        await _register(seed, f"https://hooks.test:{_port(receiver)}/hook", ["license.created"])
        await _generate(seed, await seed.product())
        assert await _worker(seed.database, master_key, authority).run_once() == 1
    assert receiver.requests == []
    delivery = await _last_delivery(seed.database)
    assert delivery.status is DeliveryStatus.PENDING
    assert "CERTIFICATE_VERIFY_FAILED" in (delivery.last_error or "")


@pytest.mark.parametrize(
    ("stored", "answer"),
    [
        ("https://[::127.0.0.1]:{port}/hook", None),
        ("https://[64:ff9b::7f00:1]:{port}/hook", None),
        ("https://[2002:7f00:1::1]:{port}/hook", None),
        ("https://2130706433:{port}/hook", None),
        ("https://hooks.test:{port}/hook\r\nX-Injected: 1", None),
        ("https://hooks.test:{port}/hook#@evil.example", None),
        ("https://embedded.test:{port}/hook", "64:ff9b::a00:1"),
        ("https://embedded.test:{port}/hook", "::ffff:10.0.0.1"),
        ("https://embedded.test:{port}/hook", "169.254.169.254"),
    ],
)
async def test_refused_at_delivery_says_only_target_refused(
    seed: Seed,
    master_key: MasterKey,
    resolver: Resolver,
    authority: trustme.CA,
    caplog: pytest.LogCaptureFixture,
    stored: str,
    answer: str | None,
) -> None:
    """A URL stored before these checks (or a name that now resolves inside the network) is
    refused when delivered; the tenant sees "target refused", the server log the reason."""
    if answer is not None:
        resolver.answer("embedded.test", answer)
    with connection_counter("127.0.0.1", 0) as trap:
        created = await _register(seed, "https://public.example/hook", ["license.created"])
        async with seed.database.write() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == created["id"])
                .values(url=stored.format(port=trap.port))
            )
        await _generate(seed, await seed.product())
        assert await _worker(seed.database, master_key, authority, strict=True).run_once() == 1
    assert trap.accepted == 0
    delivery = await _last_delivery(seed.database)
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.PENDING, "target refused")
    [shown] = (await seed.api.get(f"/api/webhook/{created['id']}/deliveries")).json()
    assert shown["lastError"] == "target refused"
    logged = [r.getMessage() for r in caplog.records if r.name == "exisone_server.webhooks"]
    assert any(f"delivery {delivery.id} " in line for line in logged), logged
    if answer is not None:
        assert any(str(ipaddress.ip_address(answer)) in line for line in logged), logged


async def test_an_internal_name_is_not_told_apart_from_an_unknown_one(
    seed: Seed, master_key: MasterKey, resolver: Resolver, authority: trustme.CA
) -> None:
    resolver.answer("db.internal.test", "10.1.2.3")
    for host in ("db.internal.test", "no-such-host.invalid"):
        await _register(seed, f"https://{host}/hook", ["license.created"])
    await _generate(seed, await seed.product())
    assert await _worker(seed.database, master_key, authority, strict=True).run_once() == 2
    async with seed.database.read_session() as session:
        errors = (await session.scalars(select(WebhookDelivery.last_error))).all()
    assert errors == ["target refused", "target refused"]
