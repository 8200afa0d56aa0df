"""The pure parts of the HTTP adapter: ETag conditions and the client address."""

from __future__ import annotations

import uuid

import pytest

from entrypoints.http.clients import ClientAddressResolver
from entrypoints.http.etags import expected_versions, none_match

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


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        (None, None),
        ("*", None),
        ('"a", *', None),
        (TAG, {3}),
        (f'"{ID}.7", "{ID}.1"', {1, 7}),  # any match will do (RFC 9110 §13.1.1)
        (f'"{uuid.uuid4()}.1", {TAG}', {3}),  # another resource's tag never matches
    ],
)
def test_if_match_accepts_every_version_of_this_item_it_lists(header, versions):
    expected = None if versions is None else frozenset(versions)
    assert expected_versions(header, ID) == expected


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
        "",
    ],
)
def test_if_match_that_can_never_match_accepts_no_version(header: str):
    assert expected_versions(header, ID) == frozenset()


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
