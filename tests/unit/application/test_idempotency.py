"""Idempotency keys on creating use cases: a retry gets the first answer, nothing twice."""

import pytest

from application.errors import EmailAlreadyRegistered, IdempotencyKeyReused
from application.idempotency import KEY_LIFETIME, IdempotencyKey
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from application.use_cases.items.create_item import CreateItem, CreateItemHandler
from domain.errors import InvalidTitle

KEY = IdempotencyKey("8e03978e-40d5-43e8-bc93-6894a57f9324", "fingerprint-of-the-request")
OTHER_REQUEST = IdempotencyKey(KEY.value, "fingerprint-of-another-request")


def _create(world, actor, key=KEY, title="Groceries"):
    return CreateItemHandler(world.uow, world.clock)(CreateItem(actor, title, "milk", key))


def _register(world, key=KEY, email="new@example.com"):
    return RegisterUserHandler(world.uow, world.hasher, world.clock)(
        RegisterUser(email, "correct horse", "Ada", idempotency_key=key)
    )


async def test_a_retry_gets_the_first_item_again_and_creates_nothing(world):
    ada = await world.register()
    first = await _create(world, ada)
    world.clock.advance(5)
    again = await _create(world, ada)

    assert again == first
    assert list(world.store.items) == [first.id]
    assert [e.name for e in world.publisher.events] == ["item.created"]


async def test_the_retry_gets_the_first_answer_even_after_the_item_changed(world):
    ada = await world.register()
    first = await _create(world, ada)
    world.store.items[first.id].title = "Renamed since"

    assert await _create(world, ada) == first


async def test_the_same_key_with_a_different_request_is_refused_and_creates_nothing(world):
    ada = await world.register()
    first = await _create(world, ada)

    with pytest.raises(IdempotencyKeyReused):
        await _create(world, ada, OTHER_REQUEST, title="Something else")
    assert list(world.store.items) == [first.id]


async def test_another_users_identical_key_is_another_key(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    mine, theirs = await _create(world, ada), await _create(world, bob)

    assert mine.id != theirs.id
    assert (mine.owner_id, theirs.owner_id) == (ada.user_id, bob.user_id)


async def test_without_a_key_every_request_creates(world):
    ada = await world.register()
    await _create(world, ada, key=None)
    await _create(world, ada, key=None)

    assert len(world.store.items) == 2
    assert world.store.idempotency == {}


async def test_a_key_is_forgotten_after_its_lifetime(world):
    ada = await world.register()
    first = await _create(world, ada)
    world.clock.advance(KEY_LIFETIME.total_seconds())
    later = await _create(world, ada)

    assert later.id != first.id
    assert len(world.store.items) == 2


async def test_expired_records_are_purged_when_another_is_written(world):
    ada = await world.register()
    await _create(world, ada, IdempotencyKey("old", "f"))
    world.clock.advance(KEY_LIFETIME.total_seconds() + 1)
    await _create(world, ada, IdempotencyKey("new", "f"))

    assert [key for _, key in world.store.idempotency] == ["new"]


async def test_a_failed_request_records_nothing_so_the_key_can_be_used_again(world):
    ada = await world.register()
    with pytest.raises(InvalidTitle):
        await _create(world, ada, title="   ")
    assert world.store.idempotency == {}

    assert (await _create(world, ada)).title == "Groceries"


async def test_a_registration_retry_gets_the_first_account_without_hashing_again(world):
    first = await _register(world)
    hashes = world.hasher.calls.count("hash")
    again = await _register(world)

    assert again == first
    assert len(world.store.users) == 1
    assert world.hasher.calls.count("hash") == hashes


async def test_a_registration_key_reused_for_another_email_is_refused(world):
    await _register(world)

    with pytest.raises(IdempotencyKeyReused):
        await _register(world, OTHER_REQUEST, email="other@example.com")
    assert len(world.store.users) == 1


async def test_a_refused_registration_records_nothing(world):
    await world.register("taken@example.com")

    with pytest.raises(EmailAlreadyRegistered):
        await _register(world, email="taken@example.com")
    assert world.store.idempotency == {}
