"""The streaming multipart reader: the file part's bytes, exactly, however the body is cut."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.errors import UploadTooLarge
from entrypoints.http.uploads import BadFilePart, MalformedUpload, NotMultipart, read_file_part

BOUNDARY = "----portico-test-7d1e"
HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
LIMIT = 1 << 20


def part(name: str, data: bytes, filename: str | None = None, type_: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if type_ is not None:
        head += f"Content-Type: {type_}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Body:
    """A request body in the pieces given, counting how many were taken."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces, self.taken = list(pieces), 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.taken += 1
            yield piece


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in pairwise(edges)]


async def read_all(body: Body, limit: int = LIMIT) -> tuple[str, str | None, bytes]:
    upload = await read_file_part(body, HEADERS, max_body_bytes=limit)
    return upload.filename, upload.content_type, b"".join([c async for c in upload.chunks])


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=20_000),
    points=st.lists(st.integers(min_value=0), max_size=12),
)
async def test_yields_exactly_the_file_bytes_however_the_body_is_cut(
    data: bytes, points: list[int]
):
    body = form(part("note", b"hi"), part("file", data, "a.bin", "image/png"), part("x", b"y"))

    assert await read_all(Body(cut(body, points))) == ("a.bin", "image/png", data)


async def test_gives_the_clients_name_and_type_as_sent_for_the_domain_to_make_safe():
    body = form(part("file", b"abc", "dir/na\u00efve.txt", "Text/Plain"))

    filename, content_type, _ = await read_all(Body([body]))

    assert (filename, content_type) == ("dir/na\u00efve.txt", "text/plain")


async def test_a_part_without_filename_or_type_gives_empty_name_and_no_type():
    assert await read_all(Body([form(part("file", b"abc"))])) == ("", None, b"abc")


async def test_reads_no_further_than_the_file_part_headers_before_handing_over():
    pieces = [form(part("file", b"abc", "a"))[:120], b"x" * 10, b"rest"]
    body = Body(pieces)

    await read_file_part(body, HEADERS, max_body_bytes=LIMIT)

    assert body.taken == 1


async def test_a_form_without_a_file_part_is_refused():
    with pytest.raises(BadFilePart):
        await read_all(Body([form(part("other", b"abc"))]))


@pytest.mark.parametrize("headers", [{"content-type": "application/json"}, {}])
async def test_a_body_that_is_not_multipart_is_refused_unread(headers: dict[str, str]):
    body = Body([b"{}"])

    with pytest.raises(NotMultipart):
        await read_file_part(body, headers, max_body_bytes=9)

    assert body.taken == 0


async def test_a_malformed_body_is_refused():
    with pytest.raises(MalformedUpload):
        await read_all(Body([b"no multipart here\r\n\r\n"]))


async def test_a_body_that_ends_inside_the_file_is_refused_not_a_short_file():
    body = form(part("file", b"abcdef", "a"))

    with pytest.raises(BadFilePart):
        await read_all(Body([body[: body.index(b"abcdef") + 3]]))


async def test_two_file_parts_are_refused():
    with pytest.raises(BadFilePart):
        await read_all(Body([form(part("file", b"a", "a"), part("file", b"b", "b"))]))


async def test_stops_reading_as_soon_as_the_body_is_over_the_limit():
    head = form(part("file", b"", "a"))[:-20]
    body = Body([head, *[b"z" * 1000] * 100])

    with pytest.raises(UploadTooLarge):
        await read_all(body, limit=len(head) + 5_500)

    assert body.taken == 7  # the head, then the sixth kilobyte went past the limit


async def test_counts_every_part_against_the_limit_not_only_the_file():
    body = Body([part("padding", b"p" * 5000), form(part("file", b"abc", "a"))])

    with pytest.raises(UploadTooLarge):
        await read_all(body, limit=4000)
