"""Rules of items: titles, descriptions, versions and the events changes record."""

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidDescription, InvalidTitle, StaleVersion
from domain.events import ItemCreated, ItemDeleted, ItemUpdated
from domain.items import Item

TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")


def _item(now, **kw):
    return Item.create(
        item_id=uuid4(),
        owner_id=uuid4(),
        title=kw.get("title", "t"),
        description=kw.get("description"),
        now=now,
    )


def test_a_new_item_is_version_1_and_records_item_created(now):
    item = _item(now)
    assert item.version == 1
    assert [type(e) for e in item.events] == [ItemCreated]
    assert item.events[0].name == "item.created"


@pytest.mark.parametrize("title", ["", "   ", "x" * 256])
def test_blank_or_over_long_titles_are_refused(now, title):
    with pytest.raises(InvalidTitle):
        _item(now, title=title)


def test_over_long_descriptions_are_refused(now):
    with pytest.raises(InvalidDescription):
        _item(now, description="d" * 10_001)


@given(
    st.text(TEXT, min_size=1, max_size=255).filter(str.strip),
    st.text(TEXT, max_size=300) | st.none(),
)
def test_every_real_change_bumps_the_version_by_one(title, description):
    from datetime import UTC, datetime

    start = datetime(2026, 1, 1, tzinfo=UTC)
    item = _item(start, title="original")
    item.update(title=title, description=description, now=start + timedelta(seconds=1))
    changed = (title, description) != ("original", None)
    assert item.version == (2 if changed else 1)
    assert item.updated_at == (start + timedelta(seconds=1) if changed else start)


def test_update_with_a_stale_expected_version_changes_nothing(now):
    item = _item(now)
    with pytest.raises(StaleVersion):
        item.update(title="new", expected_versions={7}, now=now)
    assert (item.title, item.version) == ("t", 1)


def test_update_to_none_clears_the_description_and_records_item_updated(now):
    item = _item(now, description="words")
    item.update(description=None, expected_versions={1}, now=now)
    assert item.description is None
    assert isinstance(item.events[-1], ItemUpdated)
    assert item.events[-1].item.version == 2


def test_a_no_op_update_records_nothing(now):
    item = _item(now)
    item.events.clear()
    item.update(title="t", now=now)
    assert item.events == [] and item.version == 1


def test_delete_records_item_deleted_with_the_last_state(now):
    item = _item(now)
    item.delete(now=now)
    assert isinstance(item.events[-1], ItemDeleted)
    assert item.events[-1].item.id == item.id


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_text_no_database_can_store_is_refused(now, text):
    with pytest.raises(InvalidTitle):
        _item(now, title=text)
    with pytest.raises(InvalidDescription):
        _item(now, description=text)
