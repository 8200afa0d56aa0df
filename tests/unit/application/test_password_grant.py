"""Sign-in throttling: guesses from elsewhere never lock the owner out below the account's
ceiling, and a flood of attempts gives way to an address's first ones when hashing is full."""

from __future__ import annotations

import pytest

from application.errors import InvalidGrant, Overloaded, RateLimited
from application.use_cases.accounts.password_grant import PasswordGrant, PasswordGrantHandler
from domain.users import Password
from tests.fakes import FakePasswordHasher

EMAIL, PASSWORD, WRONG = "ada@example.com", "correct horse", "wrong guess"
OWNER = "10.0.0.1"


def _attempt(email: str, password: str, address: str) -> PasswordGrant:
    return PasswordGrant(email, password, address)


async def _guess_wrong(grant: PasswordGrantHandler, address: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(InvalidGrant):
            await grant(_attempt(EMAIL, WRONG, address))


async def test_the_owner_signs_in_from_their_address_while_others_guess_wrong(world):
    await world.register()
    grant = world.grant()
    per_pair = world.limits.per_account.amount
    for attacker in ("192.0.2.1", "192.0.2.2"):
        await _guess_wrong(grant, attacker, per_pair)

    issued = await grant(_attempt("ADA@example.com", PASSWORD, OWNER))

    assert issued.access_token
    with pytest.raises(RateLimited):  # the attackers' own addresses are stopped
        await grant(_attempt(EMAIL, WRONG, "192.0.2.1"))


async def test_wrong_guesses_from_one_address_stop_that_address_even_with_the_password(world):
    await world.register()
    grant = world.grant()
    await _guess_wrong(grant, "192.0.2.7", world.limits.per_account.amount)

    with pytest.raises(RateLimited) as limited:
        await grant(_attempt(EMAIL, PASSWORD, "192.0.2.7"))

    assert limited.value.retry_after > 0
    await grant(_attempt(EMAIL, PASSWORD, OWNER))


async def _reach_the_ceiling(world, grant: PasswordGrantHandler) -> None:
    ceiling, per_pair = world.limits.per_account_ceiling.amount, world.limits.per_account.amount
    for n in range(ceiling // (per_pair - 1)):
        await _guess_wrong(grant, f"192.0.2.{n}", per_pair - 1)  # each under its own limit


async def test_past_the_accounts_ceiling_each_address_gets_one_attempt_a_window(world):
    await world.register()
    grant = world.grant()
    await _reach_the_ceiling(world, grant)

    for address in ("198.51.100.1", "192.0.2.0"):  # a new address, and an earlier guesser
        await _guess_wrong(grant, address, 1)
        with pytest.raises(RateLimited):
            await grant(_attempt(EMAIL, PASSWORD, address))
    with pytest.raises(RateLimited) as limited:
        await grant(_attempt(EMAIL, PASSWORD, "198.51.100.1"))

    assert limited.value.retry_after > world.limits.per_account.per_seconds  # the ceiling's


async def test_past_the_accounts_ceiling_the_owner_still_signs_in_at_the_first_try(world):
    await world.register()
    grant = world.grant()
    await _reach_the_ceiling(world, grant)

    for _ in range(2):  # a success gives the address its one attempt back
        assert (await grant(_attempt(EMAIL, PASSWORD, OWNER))).access_token


async def test_a_successful_sign_in_clears_the_count_of_its_own_address(world):
    await world.register()
    grant = world.grant()
    per_pair = world.limits.per_account.amount
    await _guess_wrong(grant, OWNER, per_pair - 1)
    await grant(_attempt(EMAIL, PASSWORD, OWNER))

    await _guess_wrong(grant, OWNER, per_pair - 1)
    await grant(_attempt(EMAIL, PASSWORD, OWNER))


async def test_attempts_past_an_addresses_priority_share_use_the_hasher_that_gives_way(world):
    await world.register()
    giving_way = FakePasswordHasher()
    grant = PasswordGrantHandler(
        world.uow, world.hasher, world.sessions, world.limiter, world.limits, giving_way
    )
    for _ in range(world.limits.priority_per_address.amount):
        with pytest.raises(InvalidGrant):
            await grant(_attempt("nobody@example.com", PASSWORD, OWNER))
    assert giving_way.calls == []

    await grant(_attempt(EMAIL, PASSWORD, OWNER))
    assert giving_way.calls == ["verify"]
    await grant(_attempt(EMAIL, PASSWORD, "10.0.0.2"))  # another address has its own share
    await grant(_attempt(EMAIL, PASSWORD, OWNER))  # a success gave this one its share back

    assert giving_way.calls == ["verify"]


class SaturatedHasher(FakePasswordHasher):
    """Verifies, but refuses new hashes as a full bcrypt queue does."""

    async def hash(self, password: Password) -> str:
        raise Overloaded("password hashes")


async def test_a_sign_in_stands_when_its_rehash_cannot_be_queued(world):
    actor = await world.register()
    saturated = SaturatedHasher(rounds=2)  # the stored hash was made at a lower cost
    grant = PasswordGrantHandler(world.uow, saturated, world.sessions, world.limiter, world.limits)

    issued = await grant(_attempt(EMAIL, PASSWORD, OWNER))

    assert issued.access_token
    assert world.store.users[actor.user_id].hashed_password.startswith("fake$1$")


class FullHasher(FakePasswordHasher):
    """A hasher whose queue is full."""

    async def verify(self, password: str, hashed: str) -> bool:
        raise Overloaded("password hashes")


async def test_a_full_hashing_queue_refuses_the_sign_in_as_overloaded_not_as_bad_credentials(
    world,
):
    await world.register()
    grant = PasswordGrantHandler(
        world.uow, FullHasher(), world.sessions, world.limiter, world.limits
    )

    with pytest.raises(Overloaded) as refused:
        await grant(_attempt(EMAIL, PASSWORD, OWNER))

    assert refused.value.retry_after >= 1
