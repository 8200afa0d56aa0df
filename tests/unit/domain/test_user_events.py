"""Users record the events others must hear of, and only when something really changed."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import AccessRevoked, UserChanged, UserRegistered
from domain.users import EmailAddress, User

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _user(*, active: bool = True, superuser: bool = False) -> User:
    user = User(uuid4(), EmailAddress("ada@example.com"), "h", None, NOW, active, superuser)
    return user


def test_registering_records_user_registered_with_the_address_and_name():
    user = User.register(
        user_id=uuid4(),
        email=EmailAddress("Ada@Example.com"),
        hashed_password="h",
        full_name="Ada",
        now=NOW,
    )
    assert user.events == [UserRegistered(user.id, "ada@example.com", "Ada", NOW)]


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_role_and_activation_changes_record_user_changed_exactly_when_they_change_a_flag(
    active, superuser, to_active, to_superuser
):
    user = _user(active=active, superuser=superuser)
    user.change_role(is_superuser=to_superuser, now=NOW)
    if to_active:
        user.activate(now=NOW)
    else:
        user.deactivate(now=NOW)
    changes = (superuser != to_superuser) + (active != to_active)
    assert user.events == [UserChanged(user.id, NOW)] * changes
    assert (user.is_active, user.is_superuser) == (to_active, to_superuser)


def test_renaming_or_a_new_address_records_nothing_so_no_connection_is_closed_for_it():
    user = _user()
    user.change_profile(email=EmailAddress("new@example.com"), full_name="Ada L.")
    user.change_password_hash("another")
    assert user.events == []


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (lambda u: u.end_sessions(now=NOW), {"token_id": None, "keep_token_id": None}),
        (lambda u: u.end_sessions(now=NOW, keep_token_id="t1"), {"keep_token_id": "t1"}),
        (lambda u: u.sign_out("t2", now=NOW), {"token_id": "t2"}),
    ],
)
def test_ending_sessions_records_access_revoked_for_what_was_ended(end, expected):
    user = _user()
    end(user)
    [event] = user.events
    assert isinstance(event, AccessRevoked) and event.user_id == user.id
    assert {key: getattr(event, key) for key in expected} == expected


def test_ending_one_session_revokes_that_session_only():
    user, session = _user(), uuid4()
    user.end_session(session, now=NOW)
    [event] = user.events
    assert isinstance(event, AccessRevoked)
    assert event.revokes(user.id, "any token", session)
    assert not event.revokes(user.id, "any token", uuid4())
