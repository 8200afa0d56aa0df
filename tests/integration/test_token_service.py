"""The PyJWT adapter: every issued token verifies to what was put in, and nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.jwt.token_service import PyJwtTokenService
from application.errors import InvalidToken, TokenExpired

SECRET = "s" * 40
tokens = PyJwtTokenService(secret=SECRET, issuer="portico", audience="api", ttl_seconds=900)
moments = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)


@given(st.uuids(), moments, st.uuids() | st.none())
def test_every_issued_token_verifies_to_its_user_session_and_lifetime(user, now, session):
    issued = tokens.issue_access(user, now, session)
    claims = tokens.verify_access(issued.token, now)
    assert (claims.user_id, claims.session_id, claims.token_id) == (user, session, issued.token_id)
    assert claims.expires_at == issued.expires_at
    assert abs((claims.issued_at - now).total_seconds()) < 1e-5
    assert issued.expires_in == 900


@given(st.uuids(), moments, st.floats(min_value=0, max_value=1e6))
def test_a_token_is_expired_from_its_expiry_on(user, now, later):
    issued = tokens.issue_access(user, now)
    moment = issued.expires_at + timedelta(seconds=later)
    with pytest.raises(TokenExpired):
        tokens.verify_access(issued.token, moment)


@given(st.uuids(), moments)
def test_another_services_tokens_never_verify(user, now):
    other = PyJwtTokenService(secret=SECRET, issuer="other", audience="api", ttl_seconds=900)
    with pytest.raises(InvalidToken):
        tokens.verify_access(other.issue_access(user, now).token, now)


def test_ids_are_unique_per_token():
    now = datetime.now(UTC)
    user = UUID(int=1)
    assert len({tokens.issue_access(user, now).token_id for _ in range(100)}) == 100


def test_a_remembered_token_still_expires_and_is_not_valid_before_its_time():
    service = PyJwtTokenService(secret=SECRET, issuer="portico", audience="api", ttl_seconds=60)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = service.issue_access(UUID(int=7), now).token
    assert service.verify_access(token, now).user_id == UUID(int=7)  # now remembered
    with pytest.raises(TokenExpired):
        service.verify_access(token, now + timedelta(seconds=60))
    with pytest.raises(InvalidToken):
        service.verify_access(token, now - timedelta(seconds=5))


def test_remembering_a_token_does_not_make_an_altered_copy_valid():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = tokens.issue_access(UUID(int=8), now).token
    tokens.verify_access(token, now)
    header, payload, signature = token.split(".")
    altered = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    with pytest.raises(InvalidToken):
        tokens.verify_access(altered, now)
