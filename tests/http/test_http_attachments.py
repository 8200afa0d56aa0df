"""Attachments through the real app: streamed multipart uploads, ranged downloads, deletion.

The module's app stores blobs in a directory of its own and has small limits, so that every
limit can be crossed cheaply: uploads of at most MAX_UPLOAD bytes, request bodies elsewhere of
at most BODY_LIMIT bytes (less than an upload may be: the upload route bounds its own body).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import pytest_asyncio
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sqlalchemy.migrate import upgrade_async
from entrypoints.container import Container
from tests.http.conftest import (
    Account,
    RecordingEmailSender,
    make_container,
    test_settings,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"
MAX_UPLOAD = 256 * 1024
BODY_LIMIT = 64 * 1024
PER_ITEM = 3
BOUNDARY = "portico-boundary-5c1f"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
PROBLEM = "application/problem+json"

MakeItem = Callable[..., Awaitable[dict[str, object]]]


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blobs")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def container(database_url: str, storage: Path) -> Container:
    """The module's container: its own blob directory and small limits."""
    await upgrade_async(database_url)
    limits = {
        "storage_dir": str(storage),
        "max_upload_bytes": MAX_UPLOAD,
        "max_request_body_bytes": BODY_LIMIT,
        "max_attachments_per_item": PER_ITEM,
    }
    container = make_container(test_settings(database_url, **limits))
    container.email_sender.override(providers.Object(RecordingEmailSender(container.job_queue())))
    return container


@pytest.fixture(scope="module")
def jobs(container: Container) -> RecordingEmailSender:
    """Waits for the app's in-process jobs (`await jobs.settled()`)."""
    sender = container.email_sender()
    assert isinstance(sender, RecordingEmailSender)
    return sender


def stored_files(storage: Path) -> set[str]:
    """Every file under the blob directory, temporaries included."""
    return {
        os.path.relpath(os.path.join(directory, name), storage)
        for directory, _, names in os.walk(storage)
        for name in names
    }


def multipart(
    data: bytes, filename: str = "notes.txt", content_type: str | None = "text/plain"
) -> bytes:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
    head += f"\r\nContent-Type: {content_type}" if content_type else ""
    return head.encode() + b"\r\n\r\n" + data + f"\r\n--{BOUNDARY}--\r\n".encode()


class Dribble:
    """A body sent in chunks without a Content-Length; counts the chunks the app took."""

    def __init__(self, head: bytes, chunk: bytes, count: int) -> None:
        self.head, self.chunk, self.count, self.taken = head, chunk, count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.taken += 1
        yield self.head
        for _ in range(self.count):
            self.taken += 1
            yield self.chunk


def attachments_of(item: dict[str, object]) -> str:
    return f"{ITEMS}/{item['id']}/attachments"


async def upload(
    client: httpx.AsyncClient, account: Account, item: dict[str, object], data: bytes, **kw: str
) -> httpx.Response:
    return await client.post(
        attachments_of(item),
        content=multipart(data, **kw),
        headers={**account.headers, "Content-Type": MULTIPART},
    )


async def uploaded(
    client: httpx.AsyncClient, account: Account, item: dict[str, object], data: bytes, **kw: str
) -> dict[str, object]:
    response = await upload(client, account, item, data, **kw)
    assert response.status_code == 201, response.text
    return dict(response.json())


def download_url(item: dict[str, object], attachment: dict[str, object]) -> str:
    return f"{attachments_of(item)}/{attachment['id']}"


# --- upload ---------------------------------------------------------------------------------


async def test_upload_answers_201_with_the_attachment_and_the_download_location(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    data = b"milk, eggs, flour\n"

    response = await client.post(
        attachments_of(item),
        files={"file": ("dir/list.txt", data, "Text/Plain")},
        headers=alice.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{attachments_of(item)}/{body['id']}"
    assert set(body) == {
        "id",
        "item_id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "created_at",
    }
    assert body["item_id"] == item["id"]
    assert body["filename"] == "list.txt"
    assert body["content_type"] == "text/plain"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["created_at"].endswith("Z")


async def test_upload_without_a_content_type_is_stored_as_octet_stream(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)

    body = await uploaded(client, alice, item, b"\x00\x01", content_type="")  # no part type

    assert body["content_type"] == "application/octet-stream"


async def test_upload_over_the_apps_body_limit_is_accepted_up_to_max_upload_bytes(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    data = os.urandom(MAX_UPLOAD)  # four times the limit on every other body

    body = await uploaded(client, alice, item, data)
    elsewhere = await client.post(
        ITEMS,
        content=b" " * (BODY_LIMIT + 1),
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert body["size"] == MAX_UPLOAD
    assert elsewhere.status_code == 413


async def test_upload_without_a_file_part_is_a_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)

    response = await client.post(
        attachments_of(item), data={"other": "x"}, files={"other_file": ("a", b"a")},
        headers=alice.headers,
    )  # fmt: skip

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == ["body", "file"]


async def test_upload_of_a_json_body_is_a_415(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)

    response = await client.post(attachments_of(item), json={"file": "x"}, headers=alice.headers)

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


async def test_upload_of_an_empty_file_is_a_415_and_keeps_nothing(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, storage: Path
):
    item = await make_item(alice)
    before = stored_files(storage)

    response = await upload(client, alice, item, b"")

    assert response.status_code == 415
    assert response.json()["type"] == "urn:portico:problem:empty-upload"
    assert stored_files(storage) == before
    assert (await client.get(attachments_of(item), headers=alice.headers)).json() == []


async def test_a_chunked_upload_past_the_limit_is_cut_at_once_with_413_and_keeps_nothing(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, storage: Path
):
    item = await make_item(alice)
    before = stored_files(storage)
    head = multipart(b"")[: -len(f"\r\n--{BOUNDARY}--\r\n")]
    body = Dribble(head, b"x" * 16384, count=1000)  # 16 MB, if it were all read

    response = await client.post(
        attachments_of(item), content=body, headers={**alice.headers, "Content-Type": MULTIPART}
    )

    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["type"] == "urn:portico:problem:upload-too-large"
    assert body.taken <= MAX_UPLOAD // 16384 + 3  # stopped at the limit, not at the end
    assert stored_files(storage) == before
    assert (await client.get(attachments_of(item), headers=alice.headers)).json() == []


async def test_a_content_length_over_the_limit_is_a_413_before_a_byte_is_read(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    body = Dribble(b"--" + BOUNDARY.encode(), b"x" * 16384, count=100)
    announced = str(MAX_UPLOAD + 1024 * 1024)

    response = await client.post(
        attachments_of(item),
        content=body,
        headers={**alice.headers, "Content-Type": MULTIPART, "Content-Length": announced},
    )

    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert body.taken == 0


async def test_an_item_takes_at_most_its_limit_of_attachments_then_409(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    for n in range(PER_ITEM):
        await uploaded(client, alice, item, b"%d" % n)

    response = await upload(client, alice, item, b"one too many")

    assert response.status_code == 409
    assert response.json()["type"] == "urn:portico:problem:attachment-limit-reached"


async def test_upload_without_a_token_is_a_401(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)

    response = await client.post(attachments_of(item), files={"file": ("a", b"a")})

    assert response.status_code == 401


# --- list and download ----------------------------------------------------------------------


async def test_lists_an_items_attachments_oldest_first(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    first = await uploaded(client, alice, item, b"first")
    second = await uploaded(client, alice, item, b"second")

    response = await client.get(attachments_of(item), headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == [first, second]


async def test_download_streams_the_bytes_with_the_stored_type_and_safe_headers(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    data = b"<html><script>alert(1)</script>"
    attachment = await uploaded(
        client, alice, item, data, filename="caf\u00e9.html", content_type="text/html"
    )

    response = await client.get(download_url(item, attachment), headers=alice.headers)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "text/html"  # as stored: no charset added
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"cafe.html\"; filename*=UTF-8''caf%C3%A9.html"
    )


async def test_a_filename_with_quotes_and_non_ascii_gives_a_safe_disposition(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    quoted = 'say \\"hi\\" \u2603 %41.txt'  # a quoted-string, its quotes escaped
    attachment = await uploaded(client, alice, item, b"hi", filename=quoted)

    download = await client.get(download_url(item, attachment), headers=alice.headers)

    disposition = download.headers["content-disposition"]
    assert attachment["filename"] == 'say "hi" \u2603 %41.txt'
    assert disposition.startswith('attachment; filename="say _hi_ _ _41.txt"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == attachment["filename"]


async def test_a_matching_if_none_match_is_a_304_without_a_body(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"cached")
    tag = f'"{attachment["sha256"]}"'

    response = await client.get(
        download_url(item, attachment), headers={**alice.headers, "If-None-Match": f'W/"x", {tag}'}
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag


@pytest.mark.parametrize(
    ("range_", "start", "stop"),
    [("bytes=2-5", 2, 6), ("bytes=7-", 7, 10), ("bytes=-3", 7, 10), ("bytes=8-100", 8, 10)],
)
async def test_one_range_is_a_206_with_content_range_and_length(
    client: httpx.AsyncClient,
    alice: Account,
    make_item: MakeItem,
    range_: str,
    start: int,
    stop: int,
):
    item = await make_item(alice)
    data = b"0123456789"
    attachment = await uploaded(client, alice, item, data)

    response = await client.get(
        download_url(item, attachment), headers={**alice.headers, "Range": range_}
    )

    assert response.status_code == 206
    assert response.content == data[start:stop]
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/10"
    assert response.headers["content-length"] == str(stop - start)
    assert response.headers["etag"] == f'"{attachment["sha256"]}"'


@pytest.mark.parametrize("range_", ["bytes=10-", "bytes=99-200", "bytes=-0"])
async def test_a_range_past_the_end_is_a_416_naming_the_size(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, range_: str
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"0123456789")

    response = await client.get(
        download_url(item, attachment), headers={**alice.headers, "Range": range_}
    )

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */10"
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "headers", [{"Range": "bytes=0-1,4-5"}, {"Range": "bytes=0-1", "If-Range": '"other"'}]
)
async def test_several_ranges_or_a_stale_if_range_get_the_whole_body(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, headers: dict[str, str]
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"0123456789")

    response = await client.get(
        download_url(item, attachment), headers={**alice.headers, **headers}
    )

    assert response.status_code == 200
    assert response.content == b"0123456789"


async def test_a_current_if_range_keeps_the_range(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"0123456789")
    headers = {"Range": "bytes=0-1", "If-Range": f'"{attachment["sha256"]}"'}

    response = await client.get(
        download_url(item, attachment), headers={**alice.headers, **headers}
    )

    assert (response.status_code, response.content) == (206, b"01")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.binary(min_size=1, max_size=200_000),
    ranges=st.lists(st.tuples(st.integers(0, 200_000), st.integers(0, 200_000)), max_size=4),
)
async def test_any_bytes_survive_upload_download_and_ranged_downloads_exactly(
    client: httpx.AsyncClient,
    alice: Account,
    make_item: MakeItem,
    data: bytes,
    ranges: list[tuple[int, int]],
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, data, content_type="application/octet-stream")
    url = download_url(item, attachment)

    whole = await client.get(url, headers=alice.headers)

    assert whole.content == data
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
    for a, b in ranges:
        first, last = min(a, b) % len(data), max(a, b)
        part = await client.get(url, headers={**alice.headers, "Range": f"bytes={first}-{last}"})
        assert part.status_code == 206
        assert part.content == data[first : last + 1]


async def test_bytes_gone_from_the_store_are_a_404_problem_not_a_cut_off_200(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, storage: Path
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"soon lost")
    (storage / "attachments" / str(attachment["id"])).unlink()

    response = await client.get(download_url(item, attachment), headers=alice.headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


# --- who may, and deletion ------------------------------------------------------------------


async def test_another_users_item_and_attachments_answer_404_as_missing_ones_do(
    client: httpx.AsyncClient, alice: Account, bob: Account, make_item: MakeItem
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"private")
    bobs_item = await make_item(bob)
    url = download_url(item, attachment)
    foreign = f"{attachments_of(bobs_item)}/{attachment['id']}"  # Bob's item, Alice's id

    answers = [
        await upload(client, bob, item, b"intruder"),
        await client.get(attachments_of(item), headers=bob.headers),
        await client.get(url, headers=bob.headers),
        await client.delete(url, headers=bob.headers),
        await client.get(foreign, headers=bob.headers),
    ]

    assert [answer.status_code for answer in answers] == [404] * 5
    assert (await client.get(url, headers=alice.headers)).content == b"private"


async def test_a_superuser_reads_anyones_attachment(
    client: httpx.AsyncClient, alice: Account, admin: Account, make_item: MakeItem
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"audited")

    response = await client.get(download_url(item, attachment), headers=admin.headers)

    assert response.content == b"audited"


async def test_a_malformed_attachment_id_is_a_422(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    item = await make_item(alice)

    response = await client.get(f"{attachments_of(item)}/not-a-uuid", headers=alice.headers)

    assert response.status_code == 422


async def test_deleting_an_attachment_is_a_204_then_a_404_and_a_job_removes_the_bytes(
    client: httpx.AsyncClient,
    alice: Account,
    make_item: MakeItem,
    storage: Path,
    jobs: RecordingEmailSender,
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"to be deleted")
    blob = f"attachments/{attachment['id']}"
    assert blob in stored_files(storage)

    deleted = await client.delete(download_url(item, attachment), headers=alice.headers)
    again = await client.get(download_url(item, attachment), headers=alice.headers)
    await jobs.settled()

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert blob not in stored_files(storage)
    assert (
        await client.delete(download_url(item, attachment), headers=alice.headers)
    ).status_code == 404


async def test_deleting_the_item_removes_its_attachments_and_their_bytes(
    client: httpx.AsyncClient,
    alice: Account,
    make_item: MakeItem,
    storage: Path,
    jobs: RecordingEmailSender,
):
    item = await make_item(alice)
    attachment = await uploaded(client, alice, item, b"goes with the item")

    await client.delete(f"{ITEMS}/{item['id']}", headers=alice.headers)
    await jobs.settled()

    assert f"attachments/{attachment['id']}" not in stored_files(storage)
    response = await client.get(download_url(item, attachment), headers=alice.headers)
    assert response.status_code == 404


# --- the OpenAPI document -------------------------------------------------------------------

DOCUMENTED = {
    ("post", "/api/v1/items/{item_id}/attachments"): {
        "201", "401", "404", "409", "413", "415", "422"
    },
    ("get", "/api/v1/items/{item_id}/attachments"): {"200", "401", "404", "422"},
    ("get", "/api/v1/items/{item_id}/attachments/{attachment_id}"): {
        "200", "206", "304", "401", "404", "416", "422"
    },
    ("delete", "/api/v1/items/{item_id}/attachments/{attachment_id}"): {
        "204", "401", "404", "422"
    },
}  # fmt: skip


async def test_documents_every_attachment_response_the_multipart_body_and_binary_bytes(
    client: httpx.AsyncClient,
):
    schema = (await client.get("/openapi.json")).json()
    operations = {key: schema["paths"][key[1]][key[0]] for key in DOCUMENTED}
    upload_op = operations["post", "/api/v1/items/{item_id}/attachments"]
    download_op = operations["get", "/api/v1/items/{item_id}/attachments/{attachment_id}"]

    for key, operation in operations.items():
        assert set(operation["responses"]) == DOCUMENTED[key], key
        assert {name for option in operation["security"] for name in option} == {
            "OAuth2PasswordBearer",
            "HTTPBearer",
        }
    form = upload_op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload_op["requestBody"]["required"] is True
    assert form["required"] == ["file"]
    assert form["properties"]["file"] == {**form["properties"]["file"], "format": "binary"}
    for status in ("200", "206"):
        content = download_op["responses"][status]["content"]
        assert content == {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        }
    assert "Content-Range" in download_op["responses"]["206"]["headers"]
    assert list(download_op["responses"]["416"]["content"]) == [PROBLEM]
    assert {p["name"] for p in download_op["parameters"]} >= {"Range", "If-None-Match"}
