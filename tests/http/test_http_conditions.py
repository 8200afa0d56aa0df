"""The pure parts of the HTTP adapter: ETag conditions and the client address."""

from __future__ import annotations

import uuid

import pytest

from application.errors import PreconditionFailed
from entrypoints.http.clients import ClientAddressResolver
from entrypoints.http.etags import expected_version, none_match

ID = uuid.UUID("0193a5c4-01b2-7d4e-8f60-5a4b3c2d1e0f")
TAG = f'"{ID}.3"'


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        (TAG, True),
        (f"W/{TAG}", True),
        (f'"a", {TAG} ,"b"', True),
        ("*", True),
        (f'"{ID}.2"', False),
        (TAG.strip('"'), False),
        ("", False),
    ],
)
def test_if_none_match_uses_weak_comparison(header: str | None, matches: bool):
    assert none_match(header, TAG) is matches


@pytest.mark.parametrize(("header", "version"), [(None, None), ("*", None), (TAG, 3)])
def test_if_match_names_the_expected_version(header: str | None, version: int | None):
    assert expected_version(header, ID) == version


@pytest.mark.parametrize(
    "header",
    [
        f"W/{TAG}",
        TAG.strip('"'),
        f'"{uuid.uuid4()}.3"',
        f'"{ID}.x"',
        f'"{ID}."',
        f'"{ID}.-1"',
        f'"{ID}.{"9" * 40}"',
        f'"{ID}.1", "{ID}.2"',
        "",
    ],
)
def test_if_match_that_can_never_match_is_a_precondition_failure(header: str):
    with pytest.raises(PreconditionFailed):
        expected_version(header, ID)


def test_if_match_takes_this_items_tag_from_a_list():
    assert expected_version(f'"{uuid.uuid4()}.1", {TAG}', ID) == 3


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.3", "198.51.100.1"),
        ("10.0.0.2", "10.0.0.7", "10.0.0.7"),
        ("10.0.0.2", "", "10.0.0.2"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_resolves_the_client_address_through_trusted_proxies_only(
    peer: str | None, forwarded: str | None, client: str
):
    resolve = ClientAddressResolver(["10.0.0.0/8"])

    assert resolve(peer, forwarded) == client
