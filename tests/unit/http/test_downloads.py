"""Range parsing and Content-Disposition for downloads: pure, so checked exhaustively."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.http.downloads import (
    ByteRange,
    RangeNotSatisfiable,
    content_disposition,
    requested_range,
)

SIZE = 1000
HEADER = re.compile(
    r"attachment; filename=\"([ -~]*)\"; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]*)"
)
sizes = st.integers(min_value=1, max_value=10**12)
positions = st.integers(min_value=0, max_value=10**13)


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=0-499", 0, 500),
        ("bytes=500-", 500, SIZE),
        ("bytes=-1", SIZE - 1, SIZE),
        ("bytes=-200", 800, SIZE),
        ("bytes=990-5000", 990, SIZE),
        ("bytes=-5000", 0, SIZE),
        ("Bytes = 10-19", 10, 20),
        ("bytes= 10-19 ,", 10, 20),
    ],
)
def test_reads_one_range_against_the_size(header: str, start: int, stop: int):
    assert requested_range(header, SIZE) == ByteRange(start, stop, SIZE)


def test_describes_a_range_as_content_range():
    assert requested_range("bytes=10-19", SIZE) == ByteRange(10, 20, SIZE)
    assert ByteRange(10, 20, SIZE).content_range == "bytes 10-19/1000"
    assert ByteRange(10, 20, SIZE).length == 10


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "items=0-1",
        "bytes=5-1",
        "bytes=a-b",
        "bytes=1-b",
        "bytes=-",
        "bytes=+1-2",
        "bytes=1 - 2",
        "bytes=0x10-20",
        "bytes=\u0661-2",  # an Arabic-Indic digit is a digit to str.isdigit, not to HTTP
        "bytes=0-1,5-9",
        "bytes=0-1, 2000-",
    ],
)
def test_sends_everything_for_no_malformed_or_several_ranges(header: str | None):
    assert requested_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=" + "9" * 40 + "-"]
)
def test_refuses_a_range_that_starts_past_the_end(header: str):
    with pytest.raises(RangeNotSatisfiable) as caught:
        requested_range(header, SIZE)

    assert caught.value.size == SIZE


def test_refuses_any_range_of_empty_content():
    with pytest.raises(RangeNotSatisfiable):
        requested_range("bytes=-5", 0)


@given(size=sizes, first=positions, last=positions)
def test_a_first_last_range_is_the_overlap_with_the_content(size: int, first: int, last: int):
    header = f"bytes={first}-{last}"
    if last < first:
        assert requested_range(header, size) is None
    elif first >= size:
        with pytest.raises(RangeNotSatisfiable):
            requested_range(header, size)
    else:
        assert requested_range(header, size) == ByteRange(first, min(last + 1, size), size)


@given(size=sizes, length=st.integers(min_value=1, max_value=10**13))
def test_a_suffix_range_is_the_last_bytes(size: int, length: int):
    span = requested_range(f"bytes=-{length}", size)

    assert span == ByteRange(max(size - length, 0), size, size)


@given(header=st.text(max_size=40), size=sizes)
def test_any_header_gives_all_one_nonempty_range_within_the_content_or_416(header: str, size: int):
    try:
        span = requested_range(header, size)
    except RangeNotSatisfiable:
        return
    assert span is None or 0 <= span.start < span.stop <= size


@given(st.text(max_size=300))
def test_any_filename_gives_a_safe_header_that_round_trips(filename: str):
    value = content_disposition(filename)

    value.encode("latin-1")
    assert "\r" not in value and "\n" not in value
    match = HEADER.fullmatch(value)
    assert match is not None, value
    assert unquote(match.group(2), encoding="utf-8", errors="strict") == filename
    assert match.group(1) and '"' not in match.group(1) and "\\" not in match.group(1)


def test_falls_back_to_ascii_without_accents_quotes_or_line_breaks():
    value = content_disposition('Ré"sumé\r\n\\2026 ☃.pdf')

    assert value == (
        'attachment; filename="Re_sume___2026 _.pdf"; '
        "filename*=UTF-8''R%C3%A9%22sum%C3%A9%0D%0A%5C2026%20%E2%98%83.pdf"
    )


def test_falls_back_to_file_when_nothing_ascii_is_left():
    assert content_disposition("").startswith('attachment; filename="file"; ')
    assert content_disposition("   ").startswith('attachment; filename="file"; ')


def test_a_lone_surrogate_is_sent_as_a_question_mark():
    value = content_disposition("a\udc80b")

    assert value.endswith("filename*=UTF-8''a%3Fb")
