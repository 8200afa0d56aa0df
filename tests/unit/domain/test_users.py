"""Rules of accounts: email normalisation, password policy, profile changes."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidEmail, InvalidFullName, PasswordPolicyViolation
from domain.users import EmailAddress, Password, User

NOW = datetime(2026, 1, 1, tzinfo=UTC)


TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

local_parts = st.from_regex(r"[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,10})?", fullmatch=True)
domains = st.from_regex(r"[A-Za-z0-9]{1,15}\.[A-Za-z]{2,6}", fullmatch=True)


@given(local_parts, domains, st.sampled_from(["", " ", "\t"]))
def test_email_is_trimmed_and_lower_cased_so_any_case_compares_equal(local, domain, pad):
    address = EmailAddress(f"{pad}{local}@{domain}{pad}")
    assert address.value == f"{local}@{domain}".lower()
    assert address == EmailAddress(f"{local.upper()}@{domain.upper()}")


@given(st.text(max_size=40).filter(lambda s: "@" not in s))
def test_text_without_an_at_sign_is_never_an_email(text):
    with pytest.raises(InvalidEmail):
        EmailAddress(text)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "@example.com",
        "a@",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        ".a@b.com",
        "a..b@c.com",
        "a@-b.com",
        "a@b..com",
        "x" * 65 + "@b.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_malformed_emails_are_refused(bad):
    with pytest.raises(InvalidEmail):
        EmailAddress(bad)


@given(st.text(TEXT, min_size=8).filter(lambda s: len(s.encode()) <= 72))
def test_passwords_of_8_chars_to_72_bytes_are_accepted(text):
    assert Password(text).value == text


@given(st.text(max_size=7))
def test_passwords_under_8_characters_are_refused(text):
    with pytest.raises(PasswordPolicyViolation):
        Password(text)


@given(st.text(TEXT, min_size=8, max_size=40), st.text(TEXT, min_size=1).map(lambda s: s * 73))
def test_passwords_over_72_bytes_are_refused_never_cut(head, tail):
    with pytest.raises(PasswordPolicyViolation, match="72 bytes"):
        Password(head + tail)


def test_72_multibyte_bytes_are_the_limit_not_72_characters():
    Password("é" * 36)  # 72 bytes
    with pytest.raises(PasswordPolicyViolation):
        Password("é" * 37)  # 37 characters, 74 bytes


def test_password_is_hidden_from_repr():
    assert "s3cret-pass" not in repr(Password("s3cret-pass"))


def _user(now):
    from uuid import uuid4

    return User.register(
        user_id=uuid4(), email=EmailAddress("a@b.io"), hashed_password="h", full_name=None, now=now
    )


def test_a_new_user_is_active_and_not_a_superuser(now):
    user = _user(now)
    assert user.is_active and not user.is_superuser


def test_deactivate_and_promote_change_the_flags(now):
    user = _user(now)
    user.deactivate(now=NOW)
    user.change_role(is_superuser=True, now=NOW)
    assert not user.is_active and user.is_superuser


def test_profile_change_keeps_what_was_not_given(now):
    user = _user(now)
    user.change_profile(email=None, full_name="Ada")
    assert (user.email.value, user.full_name) == ("a@b.io", "Ada")


def test_over_long_full_name_is_refused(now):
    with pytest.raises(InvalidFullName):
        _user(now).change_profile(email=None, full_name="x" * 256)


def test_users_are_equal_by_identity_only(now):
    one, two = _user(now), _user(now)
    assert one != two and one == one


@pytest.mark.parametrize("text", ["abcdefgh\x00", "abcdefgh\ud800"])
def test_passwords_no_store_can_keep_are_refused_not_a_crash(text):
    with pytest.raises(PasswordPolicyViolation):
        Password(text)
