"""Crockford base32 as the ExisOne offline codes use it.

Five bits a symbol, most significant first, over the alphabet ``0-9 A-Z`` without I, L, O, U.
The encoder pads the last symbol with zero bits; the decoder drops the leftover (< 8) bits, so
``ceil(8n/5)`` symbols hold ``n`` bytes. Decoding is forgiving where Crockford says it should be
(case, dashes, spaces, ``I``/``L`` read as ``1`` and ``O`` as ``0``) and strict everywhere else:
any other character is an error that names it, where the official SDKs silently skip it.
"""

from __future__ import annotations

import base64
import re

from .._exceptions import InvalidOfflineCode

__all__ = ["ALPHABET", "decode", "encode", "group"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The work is done by the C base32 codec of the standard library: Crockford symbols are
# translated to the RFC 4648 alphabet, symbol by symbol (same values), and back.
_RFC_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_VALUES.update({"I": 1, "L": 1, "O": 0})
_SEPARATORS = "- \t\r\n"
_TO_RFC = {ord(sep): None for sep in _SEPARATORS}
for _symbol, _value in _VALUES.items():
    _TO_RFC[ord(_symbol)] = _TO_RFC[ord(_symbol.lower())] = _RFC_ALPHABET[_value]
# U is an RFC 4648 letter but no Crockford symbol: make it fail the alphabet check below.
_TO_RFC[ord("U")] = _TO_RFC[ord("u")] = "!"
_FROM_RFC = str.maketrans(_RFC_ALPHABET, ALPHABET)
_RFC_SYMBOLS = re.compile(r"[A-Z2-7]*")


def encode(data: bytes) -> str:
    """Encode bytes as upper-case Crockford base32 symbols, without separators."""
    return base64.b32encode(data).decode("ascii").rstrip("=").translate(_FROM_RFC)


def decode(text: str, *, strict: bool = False) -> bytes:
    """Decode symbols (any case, with dashes or white space) into bytes.

    Raises :class:`InvalidOfflineCode` naming the first character that is not base32. With
    ``strict``, also when the text is not exactly what :func:`encode` makes of the bytes: a
    symbol too many, or padding bits that are not zero.
    """
    symbols = text.translate(_TO_RFC)
    if not _RFC_SYMBOLS.fullmatch(symbols):
        _raise_for_stray_character(text)
    count = len(symbols)
    size = 5 * count // 8
    spare = 5 * count - 8 * size
    if strict and symbols and (spare >= 5 or _RFC_ALPHABET.index(symbols[-1]) & ((1 << spare) - 1)):
        raise InvalidOfflineCode(
            "Offline code has extra characters at its end, or is cut off (check that it was "
            "copied completely)"
        )
    if spare >= 5:  # a lone trailing symbol holds no whole byte
        symbols = symbols[:-1]
    return base64.b32decode(symbols + "=" * (-len(symbols) % 8)) if size else b""


def _raise_for_stray_character(text: str) -> None:
    for position, char in enumerate(text):
        if char in _SEPARATORS:
            continue
        if not char.isascii() or char.upper() not in _VALUES:
            raise InvalidOfflineCode(
                f"Offline code contains {char!r} at position {position + 1}, which is not a "
                "valid character (allowed: 0-9 and A-Z except U; dashes and spaces are ignored)"
            )
    raise AssertionError("unreachable: no stray character found")  # pragma: no cover


def group(symbols: str, size: int = 5) -> str:
    """Insert a dash every ``size`` symbols, for people reading or typing the code."""
    return "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))
