"""API errors: every error body is ``{"error": code, "message": text}`` (plus optional extras).

Domain code raises :class:`ApiError` (or a subclass); :func:`exception_handlers` turns it, and
every framework error (bad JSON, failed validation, unknown route, unexpected crash), into that
shape. The codes are listed in ``docs/errors.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
import sqlalchemy.exc
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DataError

from .kit.log_safety import escape, mask_path

__all__ = [
    "DATABASE_UNAVAILABLE",
    "INTERNAL_ERROR",
    "OUT_OF_RANGE",
    "OUT_OF_RANGE_ERRORS",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "database_unavailable",
    "error_response",
    "exception_handlers",
    "log_out_of_range",
    "log_unavailable",
    "log_unexpected",
]

logger = logging.getLogger("exisone_server")

#: The body of every 500 answer: it says nothing about the error (the log does).
INTERNAL_ERROR = {"error": "internal_error", "message": "Internal server error."}
#: The body of the 400 for a value the database cannot store, and what the database raises for
#: one (SQLite: OverflowError for a number too large; PostgreSQL: DataError, also for a string
#: longer than its column).
OUT_OF_RANGE = {"error": "invalid_request", "message": "Invalid request: a value is out of range."}
OUT_OF_RANGE_ERRORS = (OverflowError, DataError)
#: The body of a 503: PostgreSQL could not be reached or gave up (sent with Retry-After: 1).
DATABASE_UNAVAILABLE = {
    "error": "database_unavailable",
    "message": "The database is unavailable; try again shortly.",
}


class ApiError(Exception):
    """Answered as ``{"error": code, "message": message, **extra}`` with ``status_code``."""

    status_code = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, headers={"WWW-Authenticate": "ExisOneApi"})


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


def error_response(
    status_code: int,
    code: str,
    message: str,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """The one place that builds an error response."""
    body: dict[str, Any] = {"error": code, "message": message}
    if extra:
        body.update(extra)
    return Response(body, status_code=status_code, headers=dict(headers or {}))


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return error_response(exc.status_code, exc.code, exc.message, exc.extra, exc.headers)


def _validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    detail = str(exc.detail)
    if detail.startswith("JSON is malformed"):
        return error_response(400, "invalid_json", "The request body is not valid JSON.")
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key, message = item.get("key"), str(item.get("message", "invalid"))
            if key == "data" and message.strip("'") == "data":
                problems.append("a JSON object body is required")
            elif key in (None, "data"):
                problems.append(message)
            else:
                problems.append(f"{key}: {message}")
    text = "; ".join(problems) or detail
    return error_response(400, "invalid_request", f"Invalid request: {text}")


def _http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, NotFoundException):
        return error_response(404, "not_found", "No such endpoint.")
    if isinstance(exc, MethodNotAllowedException):
        return error_response(405, "method_not_allowed", "Method not allowed on this endpoint.")
    status = exc.status_code
    if status >= 500:
        logger.error("server error: %s", exc.detail)
        return error_response(status, INTERNAL_ERROR["error"], INTERNAL_ERROR["message"])
    return error_response(status, "invalid_request", str(exc.detail), headers=exc.headers)


def _undecodable(_: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    """The JSON decoder meets bytes that are not UTF-8 (security: never a 500 for bad input)."""
    return error_response(400, "invalid_json", "The request body is not valid UTF-8 JSON.")


def _too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit."""
    logger.warning("refused a request: %s", exc)
    return error_response(400, "invalid_json", "The request body is nested too deeply.")


def log_out_of_range(exc: BaseException) -> None:
    """Log a refused value (:data:`OUT_OF_RANGE_ERRORS`) without the value."""
    logger.info("refused a value the database cannot store: %s", type(exc).__name__)


def _out_of_range(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A value the database column cannot hold: :data:`OUT_OF_RANGE`."""
    log_out_of_range(exc)
    return error_response(400, OUT_OF_RANGE["error"], OUT_OF_RANGE["message"])


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL cannot answer now: unreachable, restarting, a lost
    connection, a statement or pool wait that timed out, a deadlock (every one worth a retry)."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection in time
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc.orig, psycopg.OperationalError)
    return isinstance(exc, psycopg.OperationalError)


#: PostgreSQL's deadlock_detected: it rolled one transaction back, which may simply run again.
_DEADLOCK = "40P01"


def deadlocked(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL breaking a deadlock (through SQLAlchemy or not)."""
    cause = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    return isinstance(cause, psycopg.Error) and cause.sqlstate == _DEADLOCK


def log_unavailable(method: str, path: str, exc: BaseException) -> None:
    """One warning line (no traceback) for a request the database could not serve."""
    cause = getattr(exc, "orig", None) or exc
    reason = escape(str(cause).strip().splitlines()[0] if str(cause).strip() else "", strict=True)
    logger.warning(
        "database unavailable on %s %s: %s %s",
        escape(method, strict=True),
        mask_path(path),
        type(cause).__name__,
        reason,
    )


def log_unexpected(method: str, path: str, exc: BaseException) -> None:
    """Log an error no handler expected, with its traceback (the path escaped, keys masked)."""
    logger.error(
        "unhandled error on %s %s", escape(method, strict=True), mask_path(path), exc_info=exc
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if database_unavailable(exc):
        log_unavailable(request.method, request.url.path, exc)
        return error_response(
            503,
            DATABASE_UNAVAILABLE["error"],
            DATABASE_UNAVAILABLE["message"],
            headers={"Retry-After": "1"},
        )
    log_unexpected(request.method, request.url.path, exc)
    return error_response(500, INTERNAL_ERROR["error"], INTERNAL_ERROR["message"])


def exception_handlers() -> ExceptionHandlersMap:
    """The handlers to install on the app (most specific first is not required by Litestar)."""
    return {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_exception,
        UnicodeDecodeError: _undecodable,
        RecursionError: _too_deep,
        OverflowError: _out_of_range,
        DataError: _out_of_range,
        Exception: _unexpected,
    }
