"""AttachmentRepository: every adapter stores, lists, counts and deletes attachment records."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from application.errors import Conflict
from application.ports.types import UnitOfWorkFactory
from domain.attachments import Attachment
from domain.ids import new_id
from domain.items import Item
from tests.contract.builders import a_user, an_item, at, committed


def an_attachment(item: Item, name: str = "notes.txt", *, second: float = 0) -> Attachment:
    """The record of bytes stored for `item`."""
    now = at(second)
    content = name.encode()
    return Attachment.store(
        attachment_id=new_id(now),
        item_id=item.id,
        owner_id=item.owner_id,
        filename=name,
        content_type="text/plain; charset=utf-8",
        size=len(content) + 5_000_000_000,  # past 32 bits: the column must hold any size
        sha256=hashlib.sha256(content).hexdigest(),
        now=now,
    )


async def attached(uow_factory: UnitOfWorkFactory, *attachments: Attachment) -> None:
    """Store attachment records in one committed transaction."""
    async with uow_factory() as uow:
        for attachment in attachments:
            await uow.attachments.add(attachment)
        await uow.commit()


def _fields(attachment: Attachment) -> tuple[object, ...]:
    return (
        attachment.id,
        attachment.item_id,
        attachment.owner_id,
        attachment.filename,
        attachment.content_type,
        attachment.size,
        attachment.sha256,
        attachment.created_at,
    )


async def test_a_committed_attachment_comes_back_with_every_field_under_its_item_only(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item, other = an_item(owner, second=1), an_item(owner, second=2)
    attachment = an_attachment(item, 'Grüße "quoted".txt', second=3)
    await committed(uow_factory, owner, item, other)
    await attached(uow_factory, attachment)
    async with uow_factory() as uow:
        found = await uow.attachments.get(item.id, attachment.id)
        elsewhere = await uow.attachments.get(other.id, attachment.id)
        unknown = await uow.attachments.get(item.id, uuid.uuid4())
    assert found is not None and _fields(found) == _fields(attachment)
    assert found.events == []
    assert (elsewhere, unknown) == (None, None)


async def test_list_and_count_give_the_items_attachments_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item, other = an_item(owner, second=1), an_item(owner, second=2)
    mine = [an_attachment(item, f"file {n}", second=10 - n) for n in range(4)]
    theirs = an_attachment(other, "theirs", second=0)
    await committed(uow_factory, owner, item, other)
    await attached(uow_factory, *mine, theirs)
    async with uow_factory() as uow:
        listed = await uow.attachments.list_for_item(item.id)
        both = await uow.attachments.list_for_items([item.id, other.id])
        counts = (
            await uow.attachments.count_for_item(item.id),
            await uow.attachments.count_for_item(other.id),
            await uow.attachments.count_for_item(uuid.uuid4()),
        )
        nothing = await uow.attachments.list_for_items([])
    assert [a.filename for a in listed] == [f"file {n}" for n in reversed(range(4))]
    assert [a.id for a in both] == [theirs.id, *(a.id for a in reversed(mine))]
    assert counts == (4, 1, 0)
    assert nothing == []


async def test_existing_tells_which_ids_have_a_record_however_many_are_asked(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item = an_item(owner)
    kept = [an_attachment(item, f"kept {n}", second=n) for n in range(3)]
    await committed(uow_factory, owner, item)
    await attached(uow_factory, *kept)
    strangers = [uuid.uuid4() for _ in range(1_200)]
    async with uow_factory() as uow:
        found = await uow.attachments.existing([*strangers[:700], kept[0].id, *strangers[700:]])
        all_kept = await uow.attachments.existing({a.id for a in kept})
        none = await uow.attachments.existing([])
    assert found == {kept[0].id}
    assert all_kept == {a.id for a in kept}
    assert none == set()


async def test_delete_removes_only_that_attachment_and_a_missing_one_is_no_error(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item = an_item(owner)
    doomed, kept = an_attachment(item, "doomed", second=1), an_attachment(item, "kept", second=2)
    await committed(uow_factory, owner, item)
    await attached(uow_factory, doomed, kept)
    async with uow_factory() as uow:
        await uow.attachments.delete(doomed)
        await uow.attachments.delete(doomed)
        await uow.attachments.delete(an_attachment(item, "never stored"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.attachments.get(item.id, doomed.id) is None
        assert [a.id for a in await uow.attachments.list_for_item(item.id)] == [kept.id]
        assert await uow.attachments.existing({doomed.id, kept.id}) == {kept.id}


async def test_deleting_the_item_or_its_owner_deletes_its_attachment_records(
    uow_factory: UnitOfWorkFactory,
) -> None:
    ada, bob = a_user("ada@example.com"), a_user("bob@example.com")
    item, bobs = an_item(ada), an_item(bob)
    on_item, on_bobs = an_attachment(item), an_attachment(bobs)
    await committed(uow_factory, ada, bob, item, bobs)
    await attached(uow_factory, on_item, on_bobs)
    async with uow_factory() as uow:
        await uow.items.delete(item)
        await uow.users.delete(bob)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.attachments.existing({on_item.id, on_bobs.id}) == set()
        assert await uow.attachments.list_for_items([item.id, bobs.id]) == []


async def test_an_attachment_of_a_missing_item_is_refused_with_conflict(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    await committed(uow_factory, owner)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.attachments.add(an_attachment(an_item(owner)))


async def test_an_uncommitted_attachment_is_read_in_its_transaction_and_gone_after_rollback(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = a_user()
    item = an_item(owner)
    attachment = an_attachment(item)
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        await uow.attachments.add(attachment)
        assert await uow.attachments.count_for_item(item.id) == 1
        assert await uow.attachments.get(item.id, attachment.id) is not None
    async with uow_factory() as uow:
        assert await uow.attachments.get(item.id, attachment.id) is None
        assert await uow.attachments.count_for_item(item.id) == 0
