"""Ids are UUIDv7: version 7, RFC 9562 variant, ordered by their time prefix."""

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from domain.ids import new_id, uuid7_from


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**74 - 1))
def test_every_id_has_version_7_and_the_rfc_variant(ms, bits):
    uid = uuid7_from(ms, bits)
    assert uid.version == 7
    assert uid.variant == "specified in RFC 4122"
    assert uid.int >> 80 == ms


@example(datetime(2038, 2, 1, 0, 0, 1, 100000))  # float ms would round this one down
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_a_later_millisecond_always_sorts_after(moment):
    earlier = moment.replace(tzinfo=UTC)
    later = earlier + timedelta(milliseconds=1)
    assert new_id(earlier) < new_id(later)
