"""Shared fixtures: both clients (sync and async) run the same cases over httpx.MockTransport."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Callable, Union

import httpx
import pytest

from exisone import AsyncExisOneClient, ExisOneClient

BASE_URL = "https://licensing.example.com"
TOKEN = "exo_at_pub123_secret456"
ClientType = Union[ExisOneClient, AsyncExisOneClient]
Answer = Union[httpx.Response, Exception, Callable[[httpx.Request], httpx.Response]]


@pytest.fixture(autouse=True)
def _isolated_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test keeps its client state (outbox, records, time mark) in a fresh directory."""
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("exisone-state")))


class FakeServer:
    """A MockTransport handler: records every request, answers from a script (last one repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers) or [httpx.Response(200, json={})]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):  # a fresh copy: clients bind the stream they get
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def reply(
    status: int = 200, body: Any = None, headers: Iterable[tuple[str, str]] = ()
) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=list(headers))
    if isinstance(body, (str, bytes)):
        return httpx.Response(status, content=body, headers=list(headers))
    return httpx.Response(status, json=body, headers=list(headers))


async def run(value: Any) -> Any:
    """Await the result of an async client's method; pass a sync client's result through."""
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def make_client(kind: str, sleeps: list[float]) -> AsyncIterator[Callable[..., Any]]:
    """``make_client(server, **options)`` → a client of the parametrized kind, with fake sleep."""
    made: list[ClientType] = []

    def factory(server: Callable[[httpx.Request], httpx.Response], **options: Any) -> ClientType:
        options.setdefault("base_url", BASE_URL)
        options.setdefault("access_token", TOKEN)
        transport = httpx.MockTransport(server)
        client: ClientType
        if kind == "sync":
            client = ExisOneClient(transport=transport, **options)
            client._sleep = sleeps.append
        else:
            client = AsyncExisOneClient(transport=transport, **options)

            async def fake_sleep(delay: float) -> None:
                sleeps.append(delay)

            client._sleep = fake_sleep
        client._random = lambda: 0.0
        made.append(client)
        return client

    yield factory
    for client in made:
        if isinstance(client, AsyncExisOneClient):
            await client.aclose()
        else:
            client.close()
