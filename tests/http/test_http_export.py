"""GET /api/v1/items/export: NDJSON (the default) or CSV, as a download of the caller's own
items, oldest first; each NDJSON line byte for byte what GET /{id} answers, CSV per RFC 4180
with formula cells defused. (Streaming, memory and disconnects: tests/integration.)"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.items import MAX_TITLE_CHARS
from tests.http.conftest import BACKENDS, Account

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPORT = "/api/v1/items/export"
ITEMS = "/api/v1/items"
HEADER = ["id", "owner_id", "title", "description", "version", "created_at", "updated_at"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AWKWARD = [
    ("plain", None),
    ('quotes "inside"', "commas, and\nnewlines\r\nand a tab\t"),
    ('=HYPERLINK("http://evil.example")', "+1+2"),
    ("-minus", "@SUM(A1:A2)"),
    ("\ttab first", "\rCR first"),
    ("naïve ünïcødé ✓ 𝄞", ""),
    ("back\\slash and \x01\x1f controls", "\u2028 line separator \x7f"),
]

MakeItem = Callable[..., Awaitable[dict[str, object]]]


@pytest.fixture(scope="module", params=[b for b in BACKENDS if b != "memory"] or ["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL: the container's export reads the database (not a MemoryStore)."""
    return str(request.param)


async def _export(client: httpx.AsyncClient, account: Account, fmt: str | None) -> httpx.Response:
    params = {} if fmt is None else {"format": fmt}
    return await client.get(EXPORT, params=params, headers=account.headers)


def _records(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(), newline=""), strict=True))


def _defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@pytest.mark.parametrize(
    ("fmt", "media_type", "file_name"),
    [
        (None, "application/x-ndjson", "items.ndjson"),
        ("ndjson", "application/x-ndjson", "items.ndjson"),
        ("csv", "text/csv; charset=utf-8", "items.csv"),
    ],
)
async def test_answers_a_download_of_the_chosen_format(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem, fmt, media_type, file_name
):
    await make_item(alice)
    response = await _export(client, alice, fmt)

    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == f'attachment; filename="{file_name}"'
    assert response.headers["cache-control"] == "no-store"


async def test_each_ndjson_line_is_byte_for_byte_what_get_answers_oldest_first(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    made = [await make_item(alice, title=t, description=d) for t, d in AWKWARD]
    changed = await client.patch(
        f"{ITEMS}/{made[1]['id']}", json={"title": "changed"}, headers=alice.headers
    )
    assert changed.status_code == 200

    body = (await _export(client, alice, "ndjson")).content
    lines = body.split(b"\n")

    assert lines.pop() == b""  # every line ends with LF, the last one too
    assert len(lines) == len(made)
    for line, item in zip(lines, made, strict=True):
        answer = await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers)
        assert line == answer.content


async def test_csv_has_the_header_then_one_crlf_record_per_item_oldest_first(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    made = [await make_item(alice, title=t, description=d) for t, d in AWKWARD]

    body = (await _export(client, alice, "csv")).content

    assert body.startswith(",".join(HEADER).encode() + b"\r\n")
    assert body.endswith(b'"\r\n')
    assert _records(body) == [
        HEADER,
        *(
            [
                str(item["id"]),
                str(item["owner_id"]),
                _defused(str(item["title"])),
                "" if item["description"] is None else _defused(str(item["description"])),
                str(item["version"]),
                str(item["created_at"]),
                str(item["updated_at"]),
            ]
            for item in made
        ),
    ]


async def test_csv_quotes_text_cells_and_leaves_an_absent_description_empty(
    client: httpx.AsyncClient, alice: Account, make_item: MakeItem
):
    absent = await make_item(alice, title='say "hi"')
    empty = await make_item(alice, title="=1+2", description="")

    lines = (await _export(client, alice, "csv")).content.decode().split("\r\n")

    assert lines[1] == (
        f'"{absent["id"]}","{alice.id}","say ""hi""",,1,'
        f'"{absent["created_at"]}","{absent["updated_at"]}"'
    )
    assert lines[2] == (
        f'"{empty["id"]}","{alice.id}","\'=1+2","",1,'
        f'"{empty["created_at"]}","{empty["updated_at"]}"'
    )


_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
_awkward = st.sampled_from(["", *FORMULA_STARTS, '"', ",", "\n", "\r\n", "'"])
_cells = st.tuples(_awkward, _text, _awkward).map("".join)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            _cells.filter(lambda t: t.strip() and len(t) <= MAX_TITLE_CHARS), st.none() | _cells
        ),
        min_size=1,
        max_size=3,
    )
)
async def test_any_title_and_description_read_back_from_the_csv_as_a_spreadsheet_shows_them(
    client: httpx.AsyncClient, new_account: Callable[[], Awaitable[Account]], make_item, rows
):
    account = await new_account()
    made = [await make_item(account, title=title, description=text) for title, text in rows]

    records = _records((await _export(client, account, "csv")).content)

    assert records[0] == HEADER
    assert [(r[0], r[2], r[3]) for r in records[1:]] == [
        (item["id"], _defused(title), "" if text is None else _defused(text))
        for item, (title, text) in zip(made, rows, strict=True)
    ]


async def test_exports_only_the_callers_own_items_a_superusers_too(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account, make_item: MakeItem
):
    mine = await make_item(alice, title="alice's")
    await make_item(bob, title="bob's")
    own = await make_item(admin, title="admin's")

    alices = (await _export(client, alice, None)).content.splitlines()
    admins = (await _export(client, admin, None)).content.splitlines()

    assert [line.count(str(mine["id"]).encode()) for line in alices] == [1]
    assert [line.count(str(own["id"]).encode()) for line in admins] == [1]


async def test_no_items_export_as_an_empty_body_or_the_csv_header_alone(
    client: httpx.AsyncClient, alice: Account
):
    assert (await _export(client, alice, "ndjson")).content == b""
    assert (await _export(client, alice, "csv")).content == ",".join(HEADER).encode() + b"\r\n"


@pytest.mark.parametrize("fmt", ["xml", "CSV", "", "json"])
async def test_another_format_is_a_422_problem_naming_the_parameter(
    client: httpx.AsyncClient, alice: Account, fmt: str
):
    response = await _export(client, alice, fmt)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "format"]]


async def test_requires_a_bearer_token(client: httpx.AsyncClient):
    response = await client.get(EXPORT)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_openapi_document_lists_both_media_types_and_the_422(
    client: httpx.AsyncClient,
):
    operation = (await client.get("/openapi.json")).json()["paths"][EXPORT]["get"]

    assert set(operation["responses"]["200"]["content"]) == {"application/x-ndjson", "text/csv"}
    assert "Content-Disposition" in operation["responses"]["200"]["headers"]
    assert set(operation["responses"]) >= {"200", "401", "422"}
    assert [p["name"] for p in operation["parameters"]] == ["format"]
