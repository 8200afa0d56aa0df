"""The OAuth2 token endpoint's own wire format (RFC 6749 §5.1, §5.2): not problem details."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Token responses, good or bad, must never be cached (RFC 6749 §5.1)."""


class OAuthError(Exception):
    """A token request the endpoint cannot consider; `error` is the RFC 6749 §5.2 code."""

    error = "invalid_request"


class InvalidRequest(OAuthError):
    """A required parameter is missing, empty or repeated."""

    error = "invalid_request"


class UnsupportedGrantType(OAuthError):
    """The grant type is not one this server supports."""

    error = "unsupported_grant_type"


async def read_form(request: Request) -> FormData:
    """The request's form parameters; a body that is not a valid form is `invalid_request`.

    A body of another media type reads as an empty form, so its parameters are "missing".
    """
    try:
        return await request.form()
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise InvalidRequest("the request body is not a valid form") from exc


def required(form: FormData, name: str) -> str:
    """The single, non-empty value of a form parameter; else InvalidRequest.

    RFC 6749 §3.2: a parameter sent without a value counts as omitted, and none may repeat.
    """
    values = form.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"the {name} parameter must not be repeated")
    if not values or not isinstance(values[0], str) or not values[0]:
        raise InvalidRequest(f"the {name} parameter is required")
    return values[0]
