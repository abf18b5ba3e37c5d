"""Property tests of the Crockford codec the offline codes use (hypothesis)."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from exisone import InvalidOfflineCode
from exisone._offline._crockford import ALPHABET, decode, encode, group


@given(st.binary(max_size=600))
def test_round_trip_is_exact_and_strict(data: bytes) -> None:
    symbols = encode(data)
    assert len(symbols) == -(-8 * len(data) // 5)
    assert set(symbols) <= set(ALPHABET)
    assert decode(symbols, strict=True) == data


@given(st.binary(min_size=1, max_size=200), st.integers(min_value=1, max_value=9))
def test_case_dashes_and_confusables_do_not_change_the_bytes(data: bytes, size: int) -> None:
    symbols = encode(data)
    sloppy = group(symbols, size).lower().replace("1", "l").replace("0", "O")
    assert decode(sloppy, strict=True) == data


@given(st.text(alphabet=ALPHABET, max_size=80))
def test_strict_mode_accepts_only_canonical_text(symbols: str) -> None:
    """Strict decoding either refuses the text or returns bytes that encode back to it.

    (Appending a symbol is not always detectable: 7 symbols hold 4 bytes, 8 hold 5. The
    offline-code signature catches those; see test_validate_offline.)
    """
    try:
        decoded = decode(symbols, strict=True)
    except InvalidOfflineCode:
        return
    assert encode(decoded) == symbols


_FROM_RFC_4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


@given(st.binary(max_size=700))
def test_encode_agrees_with_the_standard_librarys_base32(data: bytes) -> None:
    """The column-wise encoder against an independent oracle: RFC 4648 base32 has the same
    5-bit values under other letters."""
    expected = base64.b32encode(data).decode("ascii").rstrip("=").translate(_FROM_RFC_4648)
    assert encode(data) == expected


@given(st.text(alphabet=ALPHABET, max_size=120), st.integers(min_value=1, max_value=12))
def test_group_puts_a_dash_between_groups_of_size(symbols: str, size: int) -> None:
    expected = "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))
    assert group(symbols, size) == expected
