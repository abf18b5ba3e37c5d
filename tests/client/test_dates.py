"""exisone._dates on every form servers send, on every supported Python."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exisone._dates import format_datetime, parse_datetime, utc_now

BASE = datetime(2026, 1, 1, 23, 59, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T23:59:59Z", BASE),
        ("2026-01-01T23:59:59z", BASE),
        ("2026-01-01T23:59:59", BASE),
        ("2026-01-01 23:59:59", BASE),
        ("2026-01-01T23:59:59.1234567Z", BASE.replace(microsecond=123456)),
        ("2026-01-01T23:59:59.123456789Z", BASE.replace(microsecond=123456)),
        ("2026-01-01T23:59:59.123Z", BASE.replace(microsecond=123000)),
        ("2026-01-01T23:59:59.12Z", BASE.replace(microsecond=120000)),
        ("2026-01-01T23:59:59.1Z", BASE.replace(microsecond=100000)),
        ("2026-01-01T23:59:59,5Z", BASE.replace(microsecond=500000)),
        ("2026-01-02T01:59:59+02:00", BASE),
        ("2026-01-01T18:59:59-05:00", BASE),
        ("2026-01-02T01:59:59+0200", BASE),
        ("2026-01-02T01:59:59+02", BASE),
        ("2026-01-01T23:59:59+00:00", BASE),
        ("2026-01-01T23:59Z", BASE.replace(second=0)),
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        (" 2049-12-31T23:59:59Z ", datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),
    ],
)
def test_every_server_form_parses_to_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2026-13-01",
        "2026-02-30",
        "2026-01-01T25:00:00Z",
        "2026-01-01T23:59:59+24:00",
        "2026-01-01T23:59:59.Z",
        "20260101",
        "2026-02-30T00:00:00Z",
        "2026-01-01T23:60:00Z",
        "2026-01-01T23:59.59Z",
    ],
)
def test_non_dates_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_format_is_the_protocol_form() -> None:
    assert format_datetime(BASE.replace(microsecond=999)) == "2026-01-01T23:59:59Z"
    assert format_datetime(
        datetime(2026, 1, 2, 1, 59, 59, tzinfo=timezone(timedelta(hours=2)))
    ) == ("2026-01-01T23:59:59Z")
    assert format_datetime(datetime(2026, 1, 1, 23, 59, 59)) == "2026-01-01T23:59:59Z"
    assert format_datetime(datetime(5, 1, 1, tzinfo=timezone.utc)) == "0005-01-01T00:00:00Z"


def test_utc_now_is_aware() -> None:
    assert utc_now().tzinfo is timezone.utc


aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from(
        [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


@given(aware_datetimes)
def test_round_trip_through_the_wire_form(moment: datetime) -> None:
    expected = moment.astimezone(timezone.utc).replace(microsecond=0)
    assert parse_datetime(format_datetime(moment)) == expected


@given(aware_datetimes)
def test_isoformat_of_any_offset_parses_to_the_same_instant(moment: datetime) -> None:
    assert parse_datetime(moment.isoformat()) == moment


@given(aware_datetimes, st.integers(min_value=1, max_value=9))
def test_fractions_of_any_length_truncate_to_microseconds(moment: datetime, digits: int) -> None:
    fraction = f"{moment.microsecond:06d}000"[:digits]
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction}Z"
    expected = int(fraction.ljust(6, "0")[:6])
    assert parse_datetime(text).microsecond == expected


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_the_protocol_shape_reads_the_same_on_every_python(digits: str) -> None:
    """From 3.11 the protocol's shape takes a faster path; it must accept and reject alike."""
    d = digits
    text = f"{d[:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:]}Z"
    try:
        expected = datetime.fromisoformat(text[:19] + "+00:00")
    except ValueError:
        with pytest.raises(ValueError):
            parse_datetime(text)
    else:
        parsed = parse_datetime(text)
        assert parsed == expected and parsed.tzinfo is timezone.utc
