"""Bounds of every collection: `limit` defaults to 50 and is at most 100 everywhere."""

from application.errors import InvalidPage

DEFAULT_PAGE = 50
MAX_PAGE = 100


def check_page(skip: int, limit: int) -> None:
    """Raise InvalidPage unless `skip` >= 0 and 1 <= `limit` <= 100."""
    if skip < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidPage(f"skip must be >= 0 and limit 1 to {MAX_PAGE}")
