"""Conditional requests on items (RFC 9110 §13): `If-None-Match` and `If-Match`."""

from __future__ import annotations

from uuid import UUID

MAX_VERSION_DIGITS = 18


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, current: str) -> bool:
    """Whether `If-None-Match` matches the current tag (weak comparison, `*` matches)."""
    if header is None:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))


def expected_versions(header: str | None, item_id: UUID) -> frozenset[int] | None:
    """The versions an `If-Match` header accepts; None when absent or `*` (any current one).

    Strong comparison (RFC 9110 §13.1.1): the request goes ahead if the item is at any of the
    listed versions of this item. A weak, malformed or foreign tag can never match; a list
    of only such tags accepts no version, so the request is a 412 and nothing changes.
    """
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags:
        return None
    prefix = f'"{item_id}.'
    versions = (
        tag[len(prefix) : -1] for tag in tags if tag.startswith(prefix) and tag.endswith('"')
    )
    return frozenset(
        int(v) for v in versions if v.isascii() and v.isdigit() and len(v) <= MAX_VERSION_DIGITS
    )
