"""The form of the server's log lines: ``text`` (the default) or ``json`` (``serve
--log-format``, ``EXISONE_LOG_FORMAT``).

``json``: one JSON object per line with ``time`` (UTC, milliseconds), ``level``, ``logger``,
``message`` and, for an error with a traceback, ``exception``; non-ASCII characters are written
as ``\\uNNNN`` escapes, so no record can add a line or a control character. It applies to the
server's own loggers and to granian's (the process supervisor); the access log has its own
setting (``--access-log json``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from enum import Enum
from typing import Any

from .log_safety import SafeFormatter

__all__ = ["JsonFormatter", "LogFormat", "formatter", "granian_log_config", "log_format_from_env"]

#: The environment variable ``serve`` hands its workers.
LOG_FORMAT_VARIABLE = "EXISONE_LOG_FORMAT"
TEXT_LAYOUT = "%(levelname)s:     %(name)s: %(message)s"


class LogFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


def log_format_from_env(environ: Mapping[str, str] | None = None) -> LogFormat:
    env = os.environ if environ is None else environ
    text = (env.get(LOG_FORMAT_VARIABLE) or "text").strip().lower()
    try:
        return LogFormat(text)
    except ValueError:
        raise ValueError(f"{LOG_FORMAT_VARIABLE} must be text or json, not {text!r}") from None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        now = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        data: dict[str, Any] = {
            "time": f"{stamp}.{int(now * 1000) % 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data)


def formatter(form: LogFormat) -> logging.Formatter:
    """The formatter of the server's loggers in ``form``."""
    return JsonFormatter() if form is LogFormat.JSON else SafeFormatter(TEXT_LAYOUT)


def granian_log_config(form: LogFormat) -> dict[str, Any] | None:
    """granian's logging configuration for ``form`` (None: granian's own text lines)."""
    if form is LogFormat.TEXT:
        return None
    return {
        "formatters": {
            "generic": {"()": f"{__name__}.JsonFormatter"},
            "access": {"()": "logging.Formatter", "fmt": "%(message)s"},
        }
    }
