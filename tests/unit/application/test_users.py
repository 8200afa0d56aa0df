"""Profiles and superuser administration of accounts."""

from uuid import uuid4

import pytest

from application.errors import EmailAlreadyRegistered, PermissionDenied, TokenRevoked, UserNotFound
from application.use_cases.accounts.authenticate import Authenticate
from application.use_cases.users.administer_user import AdministerUser, AdministerUserHandler
from application.use_cases.users.delete_user import DeleteUser, DeleteUserHandler
from application.use_cases.users.get_user import GetUser, GetUserHandler
from application.use_cases.users.list_users import ListUsers, ListUsersHandler
from application.use_cases.users.update_profile import UpdateProfile, UpdateProfileHandler
from tests.unit.application.test_items import _create


async def test_profile_email_change_to_a_taken_address_in_any_case_is_a_conflict(world):
    ada = await world.register("ada@x.io")
    await world.register("bob@x.io")
    with pytest.raises(EmailAlreadyRegistered):
        await UpdateProfileHandler(world.uow)(UpdateProfile(ada, email="BOB@x.io"))
    assert world.store.users[ada.user_id].email.value == "ada@x.io"


async def test_profile_change_keeps_fields_not_given(world):
    ada = await world.register("ada@x.io")
    view = await UpdateProfileHandler(world.uow)(UpdateProfile(ada, full_name="Ada"))
    assert (view.email, view.full_name) == ("ada@x.io", "Ada")


async def test_deleting_oneself_removes_ones_items_too(world):
    ada = await world.register("ada@x.io")
    await _create(world, ada)
    await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(ada))
    assert world.store.users == {}
    assert world.store.items == {}


async def test_only_superusers_list_users(world):
    ada = await world.register("ada@x.io")
    world.clock.advance(1)
    root = await world.register("root@x.io", superuser=True)
    with pytest.raises(PermissionDenied):
        await ListUsersHandler(world.uow)(ListUsers(ada))
    page = await ListUsersHandler(world.uow)(ListUsers(root, limit=1))
    assert page.total == 2
    assert [u.email for u in page.items] == ["ada@x.io"]


async def test_another_users_account_is_not_found_for_non_superusers(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    with pytest.raises(UserNotFound):
        await GetUserHandler(world.uow)(GetUser(ada, bob.user_id))
    assert (await GetUserHandler(world.uow)(GetUser(ada, ada.user_id))).id == ada.user_id


async def test_administering_needs_a_superuser(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    with pytest.raises(PermissionDenied):
        await AdministerUserHandler(world.uow, world.revoker, world.clock)(
            AdministerUser(ada, bob.user_id, is_superuser=True)
        )
    assert not world.store.users[bob.user_id].is_superuser


async def test_deactivation_ends_the_users_sessions_and_reactivation_allows_sign_in(world):
    await world.register("ada@example.com")
    root = await world.register("root@x.io", superuser=True)
    tokens = await world.sign_in()
    ada_id = next(u.id for u in world.store.users.values() if u.email.value == "ada@example.com")
    world.clock.advance(1)
    handler = AdministerUserHandler(world.uow, world.revoker, world.clock)
    view = await handler(AdministerUser(root, ada_id, is_active=False))
    assert not view.is_active
    with pytest.raises(TokenRevoked):
        await world.authenticate()(Authenticate(tokens.access_token))
    await handler(AdministerUser(root, ada_id, is_active=True, full_name="Ada"))
    assert await world.sign_in()


async def test_superuser_deletes_another_user_but_a_user_cannot(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    root = await world.register("root@x.io", superuser=True)
    with pytest.raises(PermissionDenied):
        await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(ada, bob.user_id))
    await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(root, bob.user_id))
    assert bob.user_id not in world.store.users


async def test_a_promotion_is_seen_at_once_by_authentication_that_remembered_the_user(world):
    await world.register("ada@example.com")
    root = await world.register("root@x.io", superuser=True)
    token = (await world.sign_in()).access_token
    before = await world.authenticate()(Authenticate(token))
    assert not before.is_superuser
    await AdministerUserHandler(world.uow, world.revoker, world.clock)(
        AdministerUser(root, before.user_id, is_superuser=True)
    )
    assert (await world.authenticate()(Authenticate(token))).is_superuser


async def test_a_deleted_users_token_stops_working_even_when_remembered(world):
    actor = await world.register("ada@example.com")
    token = (await world.sign_in()).access_token
    await world.authenticate()(Authenticate(token))
    world.clock.advance(1)
    await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(actor))
    with pytest.raises(TokenRevoked):
        await world.authenticate()(Authenticate(token))


async def test_a_read_that_started_before_a_demotion_is_not_remembered(world):
    from application.services.known_users import KnownUsers
    from domain.events import UserChanged

    known, user = KnownUsers(), uuid4()
    generation = known.generation(user)  # a slow read of the user begins (a superuser then)
    await known.forget(UserChanged(user, world.clock.now()))  # the demotion commits meanwhile
    known.remember(user, True, world.clock.now().timestamp(), generation)
    assert known.role(user, world.clock.now().timestamp()) is None


async def test_nothing_is_remembered_while_events_cannot_be_heard(world):
    from application.services.known_users import KnownUsers

    known, user, moment = KnownUsers(), uuid4(), world.clock.now().timestamp()
    known.link_down()
    known.remember(user, True, moment, known.generation(user))
    assert known.role(user, moment) is None
    await known.link_up(after_loss=True)
    known.remember(user, True, moment, known.generation(user))
    assert known.role(user, moment) is True


async def test_deleting_a_user_with_many_items_announces_each_deletion_in_batches(world):
    from application.use_cases.users import delete_user

    ada = await world.register("ada@x.io")
    for n in range(delete_user.BATCH + 5):
        await _create(world, ada, f"item {n}")
    await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(ada))
    deleted = [e for e in world.publisher.events if e.name == "item.deleted"]
    assert len(deleted) == delete_user.BATCH + 5
    assert world.store.items == {}
    assert world.store.users == {}
