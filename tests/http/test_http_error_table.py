"""The one error table: every application and domain error has an answer, found along its MRO."""

from __future__ import annotations

import pytest

from application import errors as app_errors
from domain import errors as domain_errors
from entrypoints.http.errors import ERRORS, outcome_for


def _concrete_errors() -> list[type[Exception]]:
    found = []
    for module in (app_errors, domain_errors):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Exception):
                found.append(value)
    return [e for e in found if e not in (app_errors.ApplicationError,)]


@pytest.mark.parametrize("error", _concrete_errors(), ids=lambda e: e.__name__)
def test_maps_every_application_and_domain_error_to_a_4xx_or_503(error: type[Exception]):
    outcome = outcome_for(error.__new__(error))

    assert outcome is not None
    assert 400 <= outcome.status < 500 or outcome.status == 503


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (domain_errors.InvalidTitle, 422),
        (domain_errors.StaleVersion, 412),
        (app_errors.PreconditionFailed, 412),
        (app_errors.ItemNotFound, 404),
        (app_errors.EmailAlreadyRegistered, 409),
        (app_errors.PermissionDenied, 403),
        (app_errors.TokenExpired, 401),
        (app_errors.InvalidCursor, 422),
        (app_errors.InvalidPage, 422),
        (app_errors.RateLimited, 429),
        (app_errors.InvalidGrant, 400),
    ],
)
def test_looks_errors_up_along_their_mro(error: type[Exception], status: int):
    class Subclass(error):  # type: ignore[misc, valid-type]
        """An error the table does not name."""

    assert Subclass not in ERRORS
    assert outcome_for(Subclass.__new__(Subclass)).status == status  # type: ignore[union-attr]
