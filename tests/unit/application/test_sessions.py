"""Sessions: refresh rotation and reuse detection, logout, password change and reset."""

import asyncio

import pytest

from application.errors import (
    InvalidGrant,
    InvalidResetToken,
    RateLimited,
    TokenRevoked,
    WrongPassword,
)
from application.ports import RateLimit
from application.use_cases.accounts.authenticate import Authenticate
from application.use_cases.accounts.change_password import ChangePassword, ChangePasswordHandler
from application.use_cases.accounts.logout import Logout, LogoutHandler
from application.use_cases.accounts.password_recovery import (
    RecoverySettings,
    RequestPasswordRecovery,
    RequestPasswordRecoveryHandler,
)
from application.use_cases.accounts.refresh_grant import RefreshGrant, RefreshGrantHandler
from application.use_cases.accounts.reset_password import ResetPassword, ResetPasswordHandler
from domain.errors import PasswordPolicyViolation


def _refresh(world):
    return RefreshGrantHandler(world.uow, world.sessions, world.revoker, world.clock)


async def _actor(world, access_token):
    return await world.authenticate()(Authenticate(access_token))


async def test_refresh_rotates_the_token_and_keeps_the_session(world):
    await world.register()
    first = await world.sign_in()
    second = await _refresh(world)(RefreshGrant(first.refresh_token))
    assert second.refresh_token != first.refresh_token
    assert (await _actor(world, second.access_token)).session_id == (
        await _actor(world, first.access_token)
    ).session_id


async def test_reusing_a_rotated_token_revokes_the_whole_family(world):
    await world.register()
    first = await world.sign_in()
    second = await _refresh(world)(RefreshGrant(first.refresh_token))
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(first.refresh_token))
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(second.refresh_token))


async def test_reusing_a_rotated_token_also_revokes_every_access_token_of_the_family(world):
    await world.register()
    first = await world.sign_in()
    other_session = await world.sign_in()
    second = await _refresh(world)(RefreshGrant(first.refresh_token))
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(first.refresh_token))
    for stolen in (first.access_token, second.access_token):
        with pytest.raises(TokenRevoked):
            await _actor(world, stolen)
    assert await _actor(world, other_session.access_token)  # another session is untouched
    family = (await _actor(world, other_session.access_token)).session_id
    announced = [e for e in world.publisher.events if e.name == "access.revoked"]
    assert len(announced) == 1  # so that sockets of the family close everywhere
    assert announced[0].session_id not in (None, family)


async def test_concurrent_refreshes_with_one_token_never_both_succeed(world):
    await world.register()
    first = await world.sign_in()
    results = await asyncio.gather(
        *(_refresh(world)(RefreshGrant(first.refresh_token)) for _ in range(2)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) <= 1
    winners = [r for r in results if not isinstance(r, Exception)]
    for winner in winners:  # the reuse revoked the family, so no live successor is left
        with pytest.raises(InvalidGrant):
            await _refresh(world)(RefreshGrant(winner.refresh_token))


async def test_a_family_ends_at_its_absolute_lifetime_however_often_it_rotates(world):
    await world.register()
    tokens = await world.sign_in()
    for _ in range(3):
        world.clock.advance(world.refresh_ttl / 4)
        tokens = await _refresh(world)(RefreshGrant(tokens.refresh_token))
    world.clock.advance(world.refresh_ttl / 4)
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(tokens.refresh_token))


@pytest.mark.parametrize("token", ["", "garbage", "t1"])
async def test_unknown_refresh_tokens_are_invalid_grants(world, token):
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(token))


async def test_an_access_token_is_not_a_refresh_token(world):
    await world.register()
    tokens = await world.sign_in()
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(tokens.access_token))


async def test_logout_stops_the_access_token_and_its_refresh_family_at_once(world):
    await world.register()
    tokens = await world.sign_in()
    actor = await _actor(world, tokens.access_token)
    await LogoutHandler(world.uow, world.denylist, world.clock)(Logout(actor))
    with pytest.raises(TokenRevoked):
        await _actor(world, tokens.access_token)
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(tokens.refresh_token))


async def test_logout_leaves_the_users_other_sessions_alone(world):
    await world.register()
    mine, other = await world.sign_in(), await world.sign_in()
    actor = await _actor(world, mine.access_token)
    await LogoutHandler(world.uow, world.denylist, world.clock)(Logout(actor))
    assert (await _actor(world, other.access_token)).user_id == actor.user_id
    await _refresh(world)(RefreshGrant(other.refresh_token))


async def test_password_change_ends_every_other_session_and_keeps_the_callers(world):
    await world.register()
    mine, other = await world.sign_in(), await world.sign_in()
    world.clock.advance(1)
    actor = await _actor(world, mine.access_token)
    await ChangePasswordHandler(world.uow, world.hasher, world.revoker, world.clock)(
        ChangePassword(actor, "correct horse", "battery staple")
    )
    assert (await _actor(world, mine.access_token)).user_id == actor.user_id
    await _refresh(world)(RefreshGrant(mine.refresh_token))
    with pytest.raises(TokenRevoked):
        await _actor(world, other.access_token)
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(other.refresh_token))
    await world.sign_in(password="battery staple")


async def test_password_change_needs_the_current_password(world):
    await world.register()
    actor = await _actor(world, (await world.sign_in()).access_token)
    with pytest.raises(WrongPassword):
        await ChangePasswordHandler(world.uow, world.hasher, world.revoker, world.clock)(
            ChangePassword(actor, "not it at all", "battery staple")
        )


def _settings(amount=5):
    return RecoverySettings(600, "https://app/reset", RateLimit("recovery", amount, 3600))


def _recovery(world, amount=5):
    return RequestPasswordRecoveryHandler(world.uow, world.limiter, _settings(amount))


def _recovery_mails(world):
    return [mail for mail in world.mailbox.sent if mail.subject == "Reset your Portico password"]


async def _reset_token(world):
    await _recovery(world)(RequestPasswordRecovery("ADA@example.com", "1.2.3.4"))
    await world.run_jobs()
    mail = _recovery_mails(world)[-1]
    return mail.body.split("Reset token: ")[1].split("\n")[0]


async def test_recovery_answers_alike_for_unknown_addresses_and_mails_only_real_ones(world):
    await world.register()
    await world.run_jobs()
    for address in ("who@example.com", "not-an-email", "ada@example.com"):
        assert await _recovery(world)(RequestPasswordRecovery(address)) is None
    waiting = await world.jobs.list(state="waiting", limit=10)
    assert sorted(str(job.payload["email"]) for job in waiting) == [
        "ada@example.com",
        "not-an-email",
        "who@example.com",
    ]
    assert await world.run_jobs() == 3
    assert [mail.to for mail in _recovery_mails(world)] == ["ada@example.com"]


async def test_a_recovery_job_run_twice_mails_the_same_link_with_the_same_message_id(world):
    await world.register()
    await world.run_jobs()  # the welcome mail
    await _recovery(world)(RequestPasswordRecovery("ada@example.com"))
    [job] = await world.jobs.list(state="waiting", limit=10)
    leased = await world.jobs.lease(worker="w", now=world.clock.now(), lease_seconds=30)
    assert leased is not None
    handler = world.messagebus.job_handlers()["mail.password-recovery"]
    await handler(leased)
    await handler(leased)  # as if the worker died after sending, before recording it
    first, second = _recovery_mails(world)
    assert first == second and first.message_id == f"<{job.id}@portico.test>"
    assert len(world.store.reset_tokens) == 1


async def test_registration_writes_one_welcome_mail_job_that_a_worker_sends(world):
    await world.register("grace@example.com")
    assert world.mailbox.sent == []  # nothing is sent until a worker runs the job
    assert await world.run_jobs() == 1
    [mail] = world.mailbox.sent
    assert (mail.to, mail.subject) == ("grace@example.com", "Welcome to Portico")
    assert await world.run_jobs() == 0


async def test_reset_sets_the_password_once_and_ends_every_session(world):
    await world.register()
    tokens = await world.sign_in()
    world.clock.advance(1)
    reset = ResetPasswordHandler(world.uow, world.hasher, world.revoker, world.clock)
    secret = await _reset_token(world)
    await reset(ResetPassword(secret, "brand new pass"))
    with pytest.raises(TokenRevoked):
        await _actor(world, tokens.access_token)
    with pytest.raises(InvalidGrant):
        await _refresh(world)(RefreshGrant(tokens.refresh_token))
    with pytest.raises(InvalidResetToken):
        await reset(ResetPassword(secret, "another new one"))
    fresh = await world.sign_in(password="brand new pass")
    assert await _actor(world, fresh.access_token)


async def test_an_expired_reset_token_is_refused_and_changes_nothing(world):
    await world.register()
    secret = await _reset_token(world)
    world.clock.advance(601)
    with pytest.raises(InvalidResetToken):
        await ResetPasswordHandler(world.uow, world.hasher, world.revoker, world.clock)(
            ResetPassword(secret, "brand new pass")
        )
    await world.sign_in()


async def test_reset_refuses_a_password_that_breaks_the_policy_before_using_the_token(world):
    await world.register()
    secret = await _reset_token(world)
    reset = ResetPasswordHandler(world.uow, world.hasher, world.revoker, world.clock)
    with pytest.raises(PasswordPolicyViolation):
        await reset(ResetPassword(secret, "short"))
    await reset(ResetPassword(secret, "long enough now"))


async def test_recovery_is_rate_limited_per_address(world):
    handler = _recovery(world, amount=2)
    for _ in range(2):
        await handler(RequestPasswordRecovery("x@example.com", "1.2.3.4"))
    with pytest.raises(RateLimited) as limited:
        await handler(RequestPasswordRecovery("x@example.com", "1.2.3.4"))
    assert limited.value.retry_after > 0
    await handler(RequestPasswordRecovery("x@example.com", "5.6.7.8"))


async def test_sign_in_rehashes_a_password_made_at_a_lower_cost(world):
    actor = await world.register()
    world.hasher.rounds = 2
    await world.sign_in()
    assert world.store.users[actor.user_id].hashed_password.startswith("fake$2$")


async def test_a_reset_uses_up_every_other_reset_link_of_the_user(world):
    await world.register()
    older, newer = await _reset_token(world), await _reset_token(world)
    reset = ResetPasswordHandler(world.uow, world.hasher, world.revoker, world.clock)
    await reset(ResetPassword(newer, "brand new pass"))
    with pytest.raises(InvalidResetToken):
        await reset(ResetPassword(older, "attacker's pass"))


async def test_a_password_change_uses_up_outstanding_reset_links(world):
    await world.register()
    link = await _reset_token(world)
    actor = await _actor(world, (await world.sign_in()).access_token)
    await ChangePasswordHandler(world.uow, world.hasher, world.revoker, world.clock)(
        ChangePassword(actor, "correct horse", "battery staple")
    )
    with pytest.raises(InvalidResetToken):
        await ResetPasswordHandler(world.uow, world.hasher, world.revoker, world.clock)(
            ResetPassword(link, "attacker's pass")
        )


async def test_password_change_attempts_are_throttled_per_user(world):
    from application.ports import RateLimit
    from application.services.throttle import Throttle

    await world.register()
    actor = await _actor(world, (await world.sign_in()).access_token)
    throttle = Throttle(world.limiter, RateLimit("password-change", 2, 900))
    handler = ChangePasswordHandler(world.uow, world.hasher, world.revoker, world.clock, throttle)
    for _ in range(2):
        with pytest.raises(WrongPassword):
            await handler(ChangePassword(actor, "a wrong guess", "battery staple"))
    with pytest.raises(RateLimited):
        await handler(ChangePassword(actor, "correct horse", "battery staple"))
