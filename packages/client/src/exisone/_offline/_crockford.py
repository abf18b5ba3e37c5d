"""Crockford base32 as the ExisOne offline codes use it.

Five bits a symbol, most significant first, over the alphabet ``0-9 A-Z`` without I, L, O, U.
The encoder pads the last symbol with zero bits; the decoder drops the leftover (< 8) bits, so
``ceil(8n/5)`` symbols hold ``n`` bytes. Decoding is forgiving where Crockford says it should be
(case, dashes, spaces, ``I``/``L`` read as ``1`` and ``O`` as ``0``) and strict everywhere else:
any other character is an error that names it, where the official SDKs silently skip it.
"""

from __future__ import annotations

from typing import NoReturn

from .._exceptions import InvalidOfflineCode

__all__ = ["ALPHABET", "decode", "encode", "group"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Decoding runs in C: the ASCII text is translated byte for byte to the digit of the same value
# in Python's base-32 integer notation (0-9, a-v), separators deleted and every other byte made
# "!", so int(..., 32) reads the whole code at once or fails on a stray character.
_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_VALUES.update({"I": 1, "L": 1, "O": 0})
_SEPARATORS = "- \t\r\n"
_TABLE = bytearray(b"!" * 256)
for _symbol, _value in _VALUES.items():
    _TABLE[ord(_symbol)] = _TABLE[ord(_symbol.lower())] = ord(_DIGITS[_value])
_TO_DIGITS = bytes(_TABLE)
_DELETE = _SEPARATORS.encode("ascii")


# Encoding runs in C too, column by column: byte i of every 5-byte block (``padded[i::5]``) is
# mapped through 256-entry tables to its share of each of the block's 8 symbols; two shares of
# one symbol are ORed as big integers; the symbols' values are interleaved with slice
# assignments and translated to the alphabet. No Python loop runs per byte or per symbol.
def _shares(shift: int, mask: int) -> bytes:
    """A table: each byte's bits selected by ``mask``, shifted left (or right, if negative)."""
    return bytes(
        ((b & mask) << shift if shift >= 0 else (b & mask) >> -shift) & 0x1F for b in range(256)
    )


#: Symbol j of a 5-byte block b0..b4 is the OR of these (column, table) shares.
_SYMBOL_SHARES: tuple[tuple[tuple[int, bytes], ...], ...] = (
    ((0, _shares(-3, 0xF8)),),
    ((0, _shares(2, 0x07)), (1, _shares(-6, 0xC0))),
    ((1, _shares(-1, 0x3E)),),
    ((1, _shares(4, 0x01)), (2, _shares(-4, 0xF0))),
    ((2, _shares(1, 0x0F)), (3, _shares(-7, 0x80))),
    ((3, _shares(-2, 0x7C)),),
    ((3, _shares(3, 0x03)), (4, _shares(-5, 0xE0))),
    ((4, _shares(0, 0x1F)),),
)
_TO_SYMBOL = bytes(ord(ALPHABET[b & 0x1F]) for b in range(256))


def encode(data: bytes) -> str:
    """Encode bytes as upper-case Crockford base32 symbols, without separators."""
    blocks = -(-len(data) // 5)
    padded = data + bytes(5 * blocks - len(data))
    columns = [padded[i::5] for i in range(5)]
    values = bytearray(8 * blocks)
    for j, shares in enumerate(_SYMBOL_SHARES):
        combined = 0
        for column, table in shares:
            combined |= int.from_bytes(columns[column].translate(table), "big")
        values[j::8] = combined.to_bytes(blocks, "big")
    return values[: (8 * len(data) + 4) // 5].translate(_TO_SYMBOL).decode("ascii")


def decode(text: str, *, strict: bool = False) -> bytes:
    """Decode symbols (any case, with dashes or white space) into bytes.

    Raises :class:`InvalidOfflineCode` naming the first character that is not base32. With
    ``strict``, also when the text is not exactly what :func:`encode` makes of the bytes: a
    symbol too many, or padding bits that are not zero.
    """
    try:
        digits = text.encode("ascii").translate(_TO_DIGITS, _DELETE)
        number = int(digits, 32) if digits else 0
    except (UnicodeEncodeError, ValueError):
        _raise_for_stray_character(text)
    count = len(digits)
    size = 5 * count // 8
    spare = 5 * count - 8 * size
    if strict and (spare >= 5 or number & ((1 << spare) - 1)):
        raise InvalidOfflineCode(
            "Offline code has extra characters at its end, or is cut off (check that it was "
            "copied completely)"
        )
    return (number >> spare).to_bytes(size, "big")


def _raise_for_stray_character(text: str) -> NoReturn:
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
    if len(symbols) <= size:
        return symbols
    groups = -(-len(symbols) // size)
    source = symbols.encode("ascii").ljust(groups * size, b"-")
    spaced = bytearray(b"-" * (groups * (size + 1)))
    for j in range(size):  # symbol j of every group
        spaced[j :: size + 1] = source[j::size]
    return spaced[: len(symbols) + groups - 1].decode("ascii")
