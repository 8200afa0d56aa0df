"""Exceptions → HTTP responses: ONE table, looked up along the exception's MRO.

Every error is an RFC 9457 problem (`application/problem+json`) except at the OAuth2 token
endpoint, whose clients expect the RFC 6749 §5.2 body. 5xx bodies say nothing specific.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from uuid import uuid4

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from application import errors as app_errors
from domain import errors as domain
from entrypoints.http.downloads import RangeNotSatisfiable
from entrypoints.http.middleware import REQUEST_ID_HEADER
from entrypoints.http.oauth import NO_STORE, InvalidRequest, OAuthError, UnsupportedGrantType
from entrypoints.http.uploads import (
    FILE_FIELD,
    BadFilePart,
    MalformedUpload,
    NotMultipart,
    UnreadableUpload,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:portico:problem:"
"""Problem types are identifiers (RFC 9457 §3.1.1): URNs, so none pretends to be a page."""

Headers = Callable[[BaseException], dict[str, str]]
IDEMPOTENCY_KEY_LOC = ("header", "Idempotency-Key")


def _bearer(_: BaseException) -> dict[str, str]:
    return {"WWW-Authenticate": "Bearer"}


def _invalid_token(_: BaseException) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _retry_after(exc: BaseException) -> dict[str, str]:
    return {"Retry-After": str(getattr(exc, "retry_after", 5))}


def _close(_: BaseException) -> dict[str, str]:
    """The rest of the body is not read: the connection goes with the answer."""
    return {"Connection": "close"}


def _unsatisfied_range(exc: BaseException) -> dict[str, str]:
    return {"Content-Range": f"bytes */{getattr(exc, 'size', 0)}"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one kind of exception is answered."""

    status: int
    title: str
    slug: str
    headers: Headers | None = None
    oauth_error: str | None = None  # set: an RFC 6749 §5.2 body instead of a problem
    expose: bool = True  # False: the message stays in the log, the body is generic
    loc: tuple[str, ...] | None = None  # set: the part of the request at fault, as a 422 lists


ERRORS: dict[type[BaseException], Outcome] = {
    domain.DomainError: Outcome(422, "Invalid input", "invalid-input"),
    domain.StaleVersion: Outcome(412, "Precondition failed", "precondition-failed"),
    app_errors.PreconditionFailed: Outcome(412, "Precondition failed", "precondition-failed"),
    app_errors.NotFound: Outcome(404, "Not found", "not-found"),
    app_errors.Conflict: Outcome(409, "Conflict", "conflict"),
    app_errors.EmailAlreadyRegistered: Outcome(409, "Email already registered", "email-taken"),
    app_errors.PermissionDenied: Outcome(403, "Forbidden", "forbidden"),
    app_errors.AuthenticationFailed: Outcome(
        401, "Not authenticated", "not-authenticated", _bearer
    ),
    app_errors.InvalidToken: Outcome(401, "Invalid token", "invalid-token", _invalid_token),
    app_errors.InvalidCursor: Outcome(
        422, "Invalid cursor", "invalid-cursor", loc=("query", "cursor")
    ),
    app_errors.InvalidPage: Outcome(422, "Invalid page", "invalid-page"),
    app_errors.AttachmentLimitReached: Outcome(
        409, "Too many attachments", "attachment-limit-reached"
    ),
    app_errors.UploadTooLarge: Outcome(413, "Upload too large", "upload-too-large", _close),
    app_errors.EmptyUpload: Outcome(415, "Empty upload", "empty-upload"),
    RangeNotSatisfiable: Outcome(
        416, "Range not satisfiable", "range-not-satisfiable", _unsatisfied_range
    ),
    NotMultipart: Outcome(415, "Unsupported media type", "unsupported-media-type"),
    MalformedUpload: Outcome(422, "Malformed upload", "malformed-upload", loc=("body",)),
    BadFilePart: Outcome(422, "Invalid file part", "invalid-file-part", loc=("body", FILE_FIELD)),
    app_errors.IdempotencyKeyReused: Outcome(
        422, "Idempotency key reused", "idempotency-key-reused", loc=IDEMPOTENCY_KEY_LOC
    ),
    app_errors.InvalidResetToken: Outcome(400, "Invalid reset token", "invalid-reset-token"),
    app_errors.WrongPassword: Outcome(400, "Wrong password", "wrong-password"),
    app_errors.RateLimited: Outcome(429, "Too many requests", "rate-limited", _retry_after),
    app_errors.DependencyUnavailable: Outcome(
        503, "Service unavailable", "unavailable", _retry_after, expose=False
    ),
    app_errors.Overloaded: Outcome(503, "Service unavailable", "overloaded", _retry_after),
    app_errors.InvalidGrant: Outcome(400, "Invalid grant", "", oauth_error="invalid_grant"),
    InvalidRequest: Outcome(400, "Invalid request", "", oauth_error=InvalidRequest.error),
    UnsupportedGrantType: Outcome(
        400, "Unsupported grant type", "", oauth_error=UnsupportedGrantType.error
    ),
}


def outcome_for(exc: BaseException) -> Outcome | None:
    """The table entry of the exception's class or its nearest mapped ancestor."""
    for cls in type(exc).__mro__:
        outcome = ERRORS.get(cls)
        if outcome is not None:
            return outcome
    return None


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An RFC 9457 problem response; `about:blank` means "just the HTTP status"."""
    body = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(orjson.dumps(body), status, headers, media_type=PROBLEM_JSON)


async def _mapped(request: Request, exc: Exception) -> Response:
    outcome = outcome_for(exc)
    if outcome is None:
        raise exc  # an unmapped error is a bug: the catch-all answers 500
    headers = outcome.headers(exc) if outcome.headers else {}
    if outcome.oauth_error:
        body = {"error": outcome.oauth_error, "error_description": str(exc)}
        return Response(orjson.dumps(body), 400, {**NO_STORE, **headers}, "application/json")
    if not outcome.expose:
        log.warning("%s %s: %r", request.method, request.url.path, exc)
    detail = str(exc) if outcome.expose else outcome.title
    type_ = PROBLEM_TYPE_BASE + outcome.slug
    extensions: dict[str, Any] = {}
    if outcome.loc is not None:
        kind = outcome.slug.replace("-", "_")
        extensions["errors"] = [{"loc": list(outcome.loc), "msg": detail, "type": kind}]
    return problem(
        outcome.status, detail, title=outcome.title, type_=type_, headers=headers, **extensions
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (the router names only its first match)."""
    scope = request.scope
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in request.app.routes)
    )


# FastAPI answers a body it cannot decode at all (not UTF-8) with this 400; to a client it is
# malformed JSON like any other, which gets 422 here, so it is answered the same way.
_UNDECODABLE_BODY = "There was an error parsing the body"


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNDECODABLE_BODY:
        error = {"loc": ["body"], "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}
        return await _validation(request, RequestValidationError([error]))
    if exc.status_code < 200 or exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, headers=headers)


def _body_not_json(request: Request, exc: RequestValidationError) -> bool:
    """A JSON body route was sent a body of another declared type (`text/plain`, a form)."""
    declared = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not declared or declared == "application/json" or declared.endswith("+json"):
        return False
    return any(error["loc"][:1] == ("body",) for error in exc.errors())


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _body_not_json(request, exc):
        return problem(
            415,
            "the request body must be JSON (Content-Type: application/json)",
            title="Unsupported media type",
            type_=PROBLEM_TYPE_BASE + "unsupported-media-type",
        )
    # Only where and why: never the rejected input or pydantic's `ctx`, which may echo it.
    errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    detail = "the request is not valid; see errors"
    return problem(
        422,
        detail,
        title="Invalid request",
        type_=PROBLEM_TYPE_BASE + "invalid-request",
        errors=errors,
    )


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while its body was being read (an upload cut off): nothing to
    answer, and no error of the service's."""
    log.info("%s %s: the client went away mid-body", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Runs outside every middleware (Starlette's ServerErrorMiddleware): sets the id itself."""
    request_id = getattr(request.state, "request_id", None) or uuid4().hex
    log.error(
        "unhandled error on %s %s [%s]", request.method, request.url.path, request_id, exc_info=exc
    )
    detail = "an unexpected error occurred; it has been logged"
    return problem(500, detail, headers={REQUEST_ID_HEADER: request_id})


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception the app can raise to the one table above (or to a generic 500)."""
    roots = (app_errors.ApplicationError, domain.DomainError, OAuthError)
    for root in (*roots, RangeNotSatisfiable, UnreadableUpload):
        app.add_exception_handler(root, _mapped)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
