"""Registration, the password grant, authentication and superuser creation."""

import asyncio
from datetime import UTC, datetime

import pytest

from application.errors import EmailAlreadyRegistered, InvalidGrant, InvalidToken, TokenExpired
from application.use_cases.accounts.authenticate import Authenticate
from application.use_cases.accounts.create_superuser import (
    CreateSuperuser,
    CreateSuperuserHandler,
)
from application.use_cases.accounts.get_current_user import GetCurrentUser, GetCurrentUserHandler
from application.use_cases.accounts.password_grant import PasswordGrant
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from domain.errors import InvalidEmail, PasswordPolicyViolation

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_registers_a_user_and_commits_it(world):
    actor = await world.register("Ada@Example.com")
    stored = world.store.users[actor.user_id]
    assert stored.email.value == "ada@example.com"
    assert stored.hashed_password != "correct horse"


async def test_raises_email_already_registered_in_any_case_and_commits_nothing(world):
    await world.register("ada@example.com")
    handler = RegisterUserHandler(world.uow, world.hasher, world.clock)
    with pytest.raises(EmailAlreadyRegistered):
        await handler(RegisterUser("ADA@example.COM", "another password"))
    assert len(world.store.users) == 1


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [
        ("nope", "long enough", InvalidEmail),
        ("a@b.io", "short", PasswordPolicyViolation),
        ("a@b.io", "p" * 73, PasswordPolicyViolation),
    ],
)
async def test_refuses_bad_input_and_stores_nothing(world, email, password, error):
    with pytest.raises(error):
        await RegisterUserHandler(world.uow, world.hasher, world.clock)(
            RegisterUser(email, password)
        )
    assert world.store.users == {}


async def test_concurrent_registrations_of_one_email_give_one_account(world):
    handler = RegisterUserHandler(world.uow, world.hasher, world.clock)
    results = await asyncio.gather(
        handler(RegisterUser("x@y.io", "password1")),
        handler(RegisterUser("X@Y.io", "password2")),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["EmailAlreadyRegistered", "UserView"]


def _grant(world):
    return world.grant()


async def test_password_grant_issues_an_access_token_for_the_user(world):
    actor = await world.register()
    issued = await _grant(world)(PasswordGrant("ADA@example.com", "correct horse"))
    claims = world.tokens.verify_access(issued.access_token, world.clock.now())
    assert claims.user_id == actor.user_id
    assert issued.expires_in == world.tokens.ttl


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ada@example.com", "wrong horse"),
        ("nobody@example.com", "correct horse"),
        ("not an email", "correct horse"),
        ("ada@example.com", "x" * 100),
    ],
)
async def test_every_bad_credential_gets_one_identical_invalid_grant(world, username, password):
    await world.register()
    with pytest.raises(InvalidGrant) as caught:
        await _grant(world)(PasswordGrant(username, password))
    assert str(caught.value) == "incorrect email or password"


async def test_unknown_email_spends_a_dummy_verification_like_a_wrong_password(world):
    await world.register()
    world.hasher.calls.clear()
    with pytest.raises(InvalidGrant):
        await _grant(world)(PasswordGrant("nobody@example.com", "correct horse"))
    assert world.hasher.calls == ["dummy_verify"]


async def test_inactive_user_cannot_obtain_tokens(world):
    actor = await world.register()
    world.store.users[actor.user_id].deactivate(now=NOW)
    with pytest.raises(InvalidGrant):
        await _grant(world)(PasswordGrant("ada@example.com", "correct horse"))


async def _token(world):
    return (await _grant(world)(PasswordGrant("ada@example.com", "correct horse"))).access_token


async def test_authenticate_returns_the_actor_of_a_valid_token(world):
    actor = await world.register()
    found = await world.authenticate()(Authenticate(await _token(world)))
    assert (found.user_id, found.is_superuser) == (actor.user_id, False)


async def test_authenticate_refuses_tokens_of_deactivated_or_deleted_users(world):
    actor = await world.register()
    token = await _token(world)
    handler = world.authenticate()
    world.store.users[actor.user_id].deactivate(now=NOW)
    with pytest.raises(InvalidToken):
        await handler(Authenticate(token))
    del world.store.users[actor.user_id]
    with pytest.raises(InvalidToken):
        await handler(Authenticate(token))


async def test_authenticate_refuses_an_expired_token(world):
    await world.register()
    token = await _token(world)
    world.clock.advance(world.tokens.ttl)
    with pytest.raises(TokenExpired):
        await world.authenticate()(Authenticate(token))


async def test_current_user_is_read_fresh_from_the_store(world):
    actor = await world.register()
    world.store.users[actor.user_id].change_profile(email=None, full_name="Ada L.")
    view = await GetCurrentUserHandler(world.uow)(GetCurrentUser(actor))
    assert view.full_name == "Ada L."


async def test_create_superuser_creates_then_promotes_idempotently(world):
    handler = CreateSuperuserHandler(world.uow, world.hasher, world.clock)
    created = await handler(CreateSuperuser("root@example.com", "rootpassword"))
    again = await handler(CreateSuperuser("ROOT@example.com", "ignored-password"))
    assert created.id == again.id and again.is_superuser
    assert len(world.store.users) == 1


async def test_create_superuser_promotes_and_reactivates_an_existing_user(world):
    actor = await world.register()
    world.store.users[actor.user_id].deactivate(now=NOW)
    view = await CreateSuperuserHandler(world.uow, world.hasher, world.clock)(
        CreateSuperuser("ada@example.com", "whatever-password")
    )
    assert view.id == actor.user_id and view.is_superuser and view.is_active


async def test_registrations_are_throttled_per_client_address_before_any_hashing(world):
    from application.errors import RateLimited
    from application.ports import RateLimit
    from application.services.throttle import Throttle

    throttle = Throttle(world.limiter, RateLimit("register", 2, 3600))
    handler = RegisterUserHandler(world.uow, world.hasher, world.clock, throttle)
    for n in range(2):
        await handler(RegisterUser(f"u{n}@example.com", "long enough", None, "10.0.0.1"))
    world.hasher.calls.clear()
    with pytest.raises(RateLimited):
        await handler(RegisterUser("u9@example.com", "long enough", None, "10.0.0.1"))
    assert world.hasher.calls == []
    await handler(RegisterUser("u9@example.com", "long enough", None, "10.0.0.2"))
