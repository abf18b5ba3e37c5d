"""Error statuses, transport failures and bad answers: what raises what, for both clients."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import httpx
import pytest

import exisone
from exisone import (
    ActivationResult,
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    ConnectTimeout,
    ExisOneError,
    InvalidArgumentError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReadTimeout,
    ServerError,
    TransportError,
)
from exisone._httpx_errors import HTTPX_EXCEPTION_MAP, map_httpx_exceptions, translate

from .conftest import FakeServer, reply, run

STATUS_CLASSES = [
    (400, BadRequestError),
    (422, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (429, RateLimitError),
    (500, ServerError),
    (503, ServerError),
    (418, APIError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_error_status_raises_its_class_with_server_code_and_message(
    make_client: Callable[..., Any], status: int, cls: type[APIError]
) -> None:
    body = {"error": "token_invalid", "message": "The access token is not valid"}
    client = make_client(FakeServer(reply(status, body)), max_retries=0)
    with pytest.raises(cls) as info:
        await run(client.validate("K", "HW"))
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.error_code == "token_invalid"
    assert error.message == "The access token is not valid"
    assert str(error) == f"HTTP {status} (token_invalid): The access token is not valid"


async def test_error_without_json_keeps_the_text(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(reply(404, "<html>Not here</html>")))
    with pytest.raises(NotFoundError) as info:
        await run(client.get_seat_usage("SINGLE-SEAT-KEY"))
    assert info.value.error_code is None
    assert info.value.message == "<html>Not here</html>"
    assert info.value.body == "<html>Not here</html>"


async def test_problem_details_message_is_read(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(reply(400, {"title": "Bad", "detail": "productName missing"})))
    with pytest.raises(BadRequestError, match="productName missing"):
        await run(client.deactivate("K", "HW", ""))


async def test_rate_limit_error_carries_retry_after(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(reply(429, {}, [("Retry-After", "3600")])))
    with pytest.raises(RateLimitError) as info:
        await run(client.generate_activation_key("P", "e@x.org"))
    assert info.value.retry_after == 3600.0


async def test_redirect_is_an_error_that_names_the_target(make_client: Callable[..., Any]) -> None:
    answer = reply(301, None, [("Location", "https://new.example.com/api/license/validate")])
    client = make_client(FakeServer(answer))
    with pytest.raises(APIError, match=r"new\.example\.com"):
        await run(client.validate("K", "HW"))


@pytest.mark.parametrize(
    ("method", "args", "body"),
    [
        ("validate", ("K", "HW"), b"<html>proxy</html>"),
        ("validate", ("K", "HW"), b"[1, 2]"),
        ("get_seat_usage", ("K",), b""),
        ("generate_activation_key", ("P", "e"), b'{"isCorporate": false}'),
        ("get_licensed_features_csv", ("K",), b"\xff\xfe"),
    ],
)
async def test_unreadable_success_answer_is_invalid_response(
    make_client: Callable[..., Any], method: str, args: tuple[str, ...], body: bytes
) -> None:
    client = make_client(FakeServer(httpx.Response(200, content=body)))
    with pytest.raises(InvalidResponseError):
        await run(getattr(client, method)(*args))


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.ConnectTimeout("slow"), ConnectTimeout),
        (httpx.ReadTimeout("slow"), ReadTimeout),
        (httpx.RemoteProtocolError("closed"), NetworkError),
        (httpx.ReadError("reset"), NetworkError),
    ],
)
async def test_transport_failures_raise_transport_errors(
    make_client: Callable[..., Any], raised: Exception, expected: type[TransportError]
) -> None:
    client = make_client(FakeServer(raised), max_retries=0)
    with pytest.raises(expected) as info:
        await run(client.validate("K", "HW"))
    assert isinstance(info.value, TransportError)
    assert info.value.__cause__ is raised


async def test_timeouts_are_also_builtin_timeout_errors(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(httpx.ReadTimeout("slow")), max_retries=0)
    with pytest.raises(TimeoutError):
        await run(client.get_licensed_features("K"))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            reply(
                400,
                {
                    "error": "version_outdated",
                    "message": "Upgrade",
                    "serverVersion": "3.0",
                    "minimumRequiredVersion": "2.0",
                },
            ),
            ActivationResult(False, "version_outdated", "Upgrade", "3.0", "2.0", status_code=400),
        ),
        (
            reply(409, {"error": "seat_limit_reached"}),
            ActivationResult(
                False, "seat_limit_reached", '{"error":"seat_limit_reached"}', status_code=409
            ),
        ),
        (
            reply(401, "denied"),
            ActivationResult(False, None, "401 Unauthorized: denied", status_code=401),
        ),
    ],
)
async def test_activate_reports_refusals_as_results(
    make_client: Callable[..., Any], answer: httpx.Response, expected: ActivationResult
) -> None:
    client = make_client(FakeServer(answer))
    assert await run(client.activate("K", "e@x.org", "HW", "P")) == expected


async def test_activate_reports_unreachable_server_as_result(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(httpx.ConnectError("[Errno 111] Connection refused"))
    client = make_client(server)
    result = await run(client.activate("K", "e@x.org", "HW", "P"))
    assert result == ActivationResult(
        False, "network_error", "Network error: [Errno 111] Connection refused"
    )
    assert len(server.requests) == 3 and len(sleeps) == 2


async def test_seat_usage_needs_a_key_before_any_request(make_client: Callable[..., Any]) -> None:
    server = FakeServer()
    client = make_client(server)
    with pytest.raises(InvalidArgumentError, match="activation_key is required"):
        await run(client.get_seat_usage("  "))
    with pytest.raises(ValueError):
        await run(client.get_seat_usage(""))
    assert server.requests == []


async def test_closed_client_refuses_calls(make_client: Callable[..., Any], kind: str) -> None:
    client = make_client(FakeServer())
    if kind == "sync":
        with client:
            pass
        client.close()  # idempotent
    else:
        async with client:
            pass
        await client.aclose()
    with pytest.raises(ClientClosedError):
        await run(client.validate("K", "HW"))
    with pytest.raises(RuntimeError):
        await run(client.deactivate("K", "HW", "P"))


def _all_httpx_exception_classes() -> list[type[Exception]]:
    return [
        value
        for value in vars(httpx).values()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__.startswith("httpx")
    ]


def test_every_httpx_exception_class_is_mapped() -> None:
    classes = _all_httpx_exception_classes()
    assert len(classes) >= 25
    sources = tuple(source for source, _ in HTTPX_EXCEPTION_MAP)
    for cls in classes:
        assert issubclass(cls, sources), f"{cls.__name__} is not mapped"


def test_mapping_picks_the_most_specific_class() -> None:
    request = httpx.Request("GET", "https://x.example")
    cases: list[tuple[Exception, type[ExisOneError]]] = [
        (httpx.ConnectTimeout("t"), ConnectTimeout),
        (httpx.PoolTimeout("t"), ConnectTimeout),
        (httpx.ReadTimeout("t"), ReadTimeout),
        (httpx.WriteTimeout("t"), ReadTimeout),
        (httpx.ConnectError("c"), ConnectError),
        (httpx.ProxyError("p"), ConnectError),
        (httpx.ReadError("r"), NetworkError),
        (httpx.WriteError("w"), NetworkError),
        (httpx.RemoteProtocolError("r"), NetworkError),
        (httpx.LocalProtocolError("l"), NetworkError),
        (httpx.UnsupportedProtocol("u"), ConfigurationError),
        (httpx.InvalidURL("u"), ConfigurationError),
        (httpx.DecodingError("d"), InvalidResponseError),
        (httpx.TooManyRedirects("r"), InvalidResponseError),
        (
            httpx.HTTPStatusError("s", request=request, response=httpx.Response(500)),
            InvalidResponseError,
        ),
        (httpx.StreamConsumed(), ExisOneError),
        (httpx.CookieConflict("c"), ExisOneError),
    ]
    for raised, expected in cases:
        assert type(translate(raised)) is expected, type(raised).__name__
        with pytest.raises(expected) as info, map_httpx_exceptions():
            raise raised
        assert info.value.__cause__ is raised


def test_exception_tree_docstring_names_every_exception() -> None:
    doc = exisone._exceptions.__doc__ or ""
    for name in exisone._exceptions.__all__:
        assert name in doc, name
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(ConnectError, NetworkError)
