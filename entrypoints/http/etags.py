"""Conditional requests on items (RFC 9110 §13): `If-None-Match` and `If-Match`."""

from __future__ import annotations

from uuid import UUID

from application.errors import PreconditionFailed


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, current: str) -> bool:
    """Whether `If-None-Match` matches the current tag (weak comparison, `*` matches)."""
    if header is None:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))


def expected_version(header: str | None, item_id: UUID) -> int | None:
    """The version an `If-Match` header asks for; None when absent or `*`.

    Strong comparison: a weak, malformed or foreign tag can never match, so it is a 412
    before anything changes. One version only: the use case checks a single expectation.
    """
    if header is None or header.strip() == "*":
        return None
    prefix = f'"{item_id}.'
    versions = {
        tag[len(prefix) : -1]
        for tag in _tags(header)
        if tag.startswith(prefix) and tag.endswith('"')
    }
    if len(versions) != 1:
        raise PreconditionFailed("If-Match must name exactly one version of this item")
    version = versions.pop()
    if not (version.isascii() and version.isdigit()) or len(version) > 18:
        raise PreconditionFailed("If-Match does not name a version of this item")
    return int(version)
