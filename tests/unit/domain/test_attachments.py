"""Rules of attachments: safe file names and media types, blob keys, the deletion event."""

import hashlib
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attachments import (
    DEFAULT_CONTENT_TYPE,
    MAX_FILENAME_CHARS,
    Attachment,
    attachment_id_of,
    blob_key,
    safe_content_type,
    safe_filename,
)
from domain.events import AttachmentDeleted
from domain.ids import new_id

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = hashlib.sha256(b"hello").hexdigest()


def _attachment(**overrides):
    values = {
        "attachment_id": new_id(NOW),
        "item_id": new_id(NOW),
        "owner_id": new_id(NOW),
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": 5,
        "sha256": DIGEST,
        "now": NOW,
        **overrides,
    }
    return Attachment.store(**values)


@given(st.one_of(st.none(), st.text(max_size=600)))
def test_a_safe_filename_has_no_separator_no_control_character_and_at_most_255_chars(name):
    safe = safe_filename(name)
    assert "/" not in safe and "\\" not in safe
    assert not any(unicodedata.category(c) in {"Cc", "Cs"} for c in safe)
    assert 1 <= len(safe) <= MAX_FILENAME_CHARS
    assert safe == safe.strip() and safe not in {".", ".."}
    safe.encode("utf-8")  # storable: no lone surrogate


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc"]), max_size=300))
def test_making_a_filename_safe_twice_changes_nothing_more(name):
    assert safe_filename(safe_filename(name)) == safe_filename(name)


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\ada\\photo.jpg", "photo.jpg"),
        ("../../secret.txt", "secret.txt"),
        ("a/b\\c", "c"),
        ("name\r\nwith\x00controls\x7f.txt", "namewithcontrols.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("  spaced out.md  ", "spaced out.md"),
        ("Grüße 日本.txt", "Grüße 日本.txt"),
        ("", "file"),
        (None, "file"),
        ("dir/", "file"),
        ("..", "file"),
        ("\x01\x02", "file"),
    ],
)
def test_filename_keeps_only_the_clients_last_path_component_made_safe(given_name, expected):
    assert safe_filename(given_name) == expected


def test_a_long_filename_is_cut_to_255_characters_keeping_its_extension():
    safe = safe_filename("x" * 400 + ".tar.gz")
    assert len(safe) == MAX_FILENAME_CHARS and safe.endswith("x.gz")
    assert safe_filename("y" * 300) == "y" * MAX_FILENAME_CHARS


@pytest.mark.parametrize(
    ("given_type", "expected"),
    [
        ("text/plain", "text/plain"),
        ("Image/PNG", "image/png"),
        ("text/plain;charset=UTF-8", "text/plain; charset=utf-8"),
        ('text/plain; charset="utf-8"', 'text/plain; charset="utf-8"'),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
        (None, DEFAULT_CONTENT_TYPE),
        ("", DEFAULT_CONTENT_TYPE),
        ("text", DEFAULT_CONTENT_TYPE),
        ("text/", DEFAULT_CONTENT_TYPE),
        ("text/html\r\nX-Injected: 1", DEFAULT_CONTENT_TYPE),
        ("text/plain; charset", DEFAULT_CONTENT_TYPE),
        ('text/plain; name="ü"', DEFAULT_CONTENT_TYPE),
        ("a/b " + "x" * 300, DEFAULT_CONTENT_TYPE),
    ],
)
def test_content_type_is_the_clients_lower_cased_or_octet_stream_when_none_or_malformed(
    given_type, expected
):
    assert safe_content_type(given_type) == (expected or given_type)


@given(st.text(max_size=300))
def test_a_safe_content_type_is_printable_ascii_type_slash_subtype(value):
    safe = safe_content_type(value)
    assert safe.isascii() and safe.isprintable() and len(safe) <= 255
    assert "/" in safe.split(";")[0]


def test_store_makes_the_clients_name_and_type_safe_and_keys_the_bytes_by_id():
    attachment = _attachment(filename="../x/report.PDF", content_type="Application/PDF")
    assert (attachment.filename, attachment.content_type) == ("report.PDF", "application/pdf")
    assert attachment.blob_key == f"attachments/{attachment.id}" == blob_key(attachment.id)
    assert attachment.events == []


@pytest.mark.parametrize(
    "overrides", [{"size": 0}, {"size": -1}, {"sha256": "ABC"}, {"sha256": DIGEST.upper()}]
)
def test_store_refuses_an_uncounted_size_or_a_malformed_digest(overrides):
    with pytest.raises(ValueError, match=r"byte|sha256"):
        _attachment(**overrides)


def test_delete_records_attachment_deleted_with_the_key_of_the_bytes():
    attachment = _attachment()
    attachment.delete(now=NOW)
    assert attachment.events == [
        AttachmentDeleted(attachment.id, attachment.item_id, attachment.blob_key, NOW)
    ]
    assert attachment.events[0].name == "attachment.deleted"


def test_attachments_are_equal_by_identity():
    one = _attachment()
    same = _attachment(attachment_id=one.id, filename="other")
    assert one == same and hash(one) == hash(same) and one != _attachment()


def test_only_keys_made_by_blob_key_name_an_attachment():
    attachment_id = new_id(NOW)
    assert attachment_id_of(blob_key(attachment_id)) == attachment_id
    for foreign in ("other/x", "attachments/", "attachments/not-a-uuid", "attachments/" + "A" * 36):
        assert attachment_id_of(foreign) is None
    assert attachment_id_of(f"attachments/{str(attachment_id).upper()}") is None
