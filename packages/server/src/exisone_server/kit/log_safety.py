"""What may reach a log line: control characters escaped, activation keys and offline codes masked.

A request path is the client's text: ``%0D%0A`` decodes to a line break that would plant a
forged line, ``%00`` makes the log binary, and ``/api/license/{key}/usage`` carries a key. Every
logged field goes through :func:`escape`; paths through :func:`mask_path`, query strings through
:func:`mask_query` (names only, never values); :class:`SafeFormatter` makes every record of the
server's own loggers one line, with its traceback below it behind ``| ``.
"""

from __future__ import annotations

import logging
from types import TracebackType

from exisone.protocol import is_offline_code

__all__ = ["KEY_MASK", "SafeFormatter", "escape", "mask_path", "mask_query"]

#: A masked activation key keeps its last four symbols: ``****-****-****-WXYZ``.
KEY_MASK = "****-****-****-"
#: A masked offline code (or other code-length segment) keeps its last four: ``****...WXYZ``.
CODE_MASK = "****..."
#: The shortest path segment that can be a key (16 symbols, dashes and spaces optional).
_KEY_SYMBOLS = 16

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _escaped(char: str, strict: bool) -> str:
    if char.isprintable() and not (strict and char in '"\\'):
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str, *, strict: bool = False) -> str:
    """``text`` with every non-printable character (line breaks, NUL, escape sequences, bidi
    controls) written as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``; ``strict`` also escapes ``"``
    and ``\\`` (so that the text can be decoded back exactly)."""
    if text.isprintable() and not (strict and ('"' in text or "\\" in text)):
        return text
    return "".join(_escaped(char, strict) for char in text)


def _masked_segment(segment: str) -> str | None:
    compact = segment.replace("-", "").replace(" ", "")
    if len(compact) == _KEY_SYMBOLS and compact.isascii() and compact.isalnum():
        return KEY_MASK + compact[-4:].upper()
    if is_offline_code(segment):
        return CODE_MASK + escape(compact[-4:], strict=True)
    return None


def mask_path(path: str) -> str:
    """``path`` escaped (strictly), with each segment that is an activation key or as long as an
    offline code masked; the common path without either costs one split."""
    if max(map(len, path.split("/"))) < _KEY_SYMBOLS:
        return escape(path, strict=True)
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if len(segment) >= _KEY_SYMBOLS and (masked := _masked_segment(segment)) is not None:
            segments[index] = masked
    return escape("/".join(segments), strict=True)


def mask_query(query: bytes) -> str:
    """The parameter names of a query string, each value written as ``*``: values carry keys,
    e-mails and hardware IDs (``page=*&q=*``)."""
    if not query:
        return ""
    names = []
    for pair in query.decode("latin-1").split("&"):
        name, equals, _ = pair.partition("=")
        names.append(escape(name, strict=True) + ("=*" if equals else ""))
    return "&".join(names)


class SafeFormatter(logging.Formatter):
    """One line per record, whatever its message holds: control characters in the message are
    escaped, and a traceback or stack follows on lines that start with ``| ``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: ExcInfo) -> str:
        return _block(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _block(super().formatStack(stack_info))


def _block(text: str) -> str:
    return "\n".join("| " + escape(line) for line in text.split("\n"))
