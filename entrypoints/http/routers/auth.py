"""Accounts and sessions: registration, the OAuth2 token endpoint, refresh, logout, recovery."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError

from application.services.sessions import TokensIssued
from application.use_cases.accounts.logout import Logout
from application.use_cases.accounts.password_grant import PasswordGrant
from application.use_cases.accounts.password_recovery import RequestPasswordRecovery
from application.use_cases.accounts.refresh_grant import RefreshGrant
from application.use_cases.accounts.register_user import RegisterUser
from application.use_cases.accounts.reset_password import ResetPassword
from entrypoints.http import deps
from entrypoints.http.deps import CurrentUser
from entrypoints.http.idempotency import REUSED_OR_MALFORMED, IdempotencyKeyHeader
from entrypoints.http.oauth import NO_STORE, UnsupportedGrantType, read_form, required
from entrypoints.http.openapi import Responses, header, problems
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas import (
    LogoutIn,
    OAuthErrorOut,
    RecoveryIn,
    RefreshIn,
    RegisterIn,
    ResetIn,
    TokenOut,
    TokenRequest,
    UserOut,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_FORM = "application/x-www-form-urlencoded"
_TOKEN_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {_FORM: {"schema": TokenRequest.model_json_schema()}},
    }
}
_GRANTED: Responses = {200: {"model": TokenOut, "headers": {"Cache-Control": header("`no-store`")}}}
_REFUSED = {"model": OAuthErrorOut, "description": "RFC 6749 §5.2: one body for any bad grant."}


@router.post(
    "/register",
    status_code=201,
    response_model=None,
    response_class=JSONBody,
    responses={
        201: {"model": UserOut, "headers": {"Location": header("The new user's URL.")}},
        **problems(409, 429, 503),
        **REUSED_OR_MALFORMED,
    },
)
async def register(
    body: RegisterIn,
    client: deps.ClientAddress,
    handler: deps.RegisterUser,
    key: IdempotencyKeyHeader,
) -> Response:
    """Open an account. The email is unique whatever its case. With `Idempotency-Key`, a retry
    of the same request gets the first answer again (201, same body and `Location`)."""
    user = await handler(RegisterUser(body.email, body.password, body.full_name, client, key))
    return JSONBody(user, 201, {"Location": f"/api/v1/users/{user.id}"})


@router.post(
    "/token",
    response_model=None,
    response_class=JSONBody,
    openapi_extra=_TOKEN_DOCS,
    responses={**_GRANTED, 400: _REFUSED, **problems(429, 503)},
)
async def token(
    request: Request,
    client: deps.ClientAddress,
    password_grant: deps.PasswordGrant,
    refresh_grant: deps.RefreshGrant,
) -> Response:
    """OAuth2 token endpoint (form-encoded): the password grant (RFC 6749 §4.3) and the
    refresh grant (§6; the refresh token is rotated). Errors are RFC 6749 §5.2 bodies."""
    form = await read_form(request)
    match required(form, "grant_type"):
        case "password":
            username, password = required(form, "username"), required(form, "password")
            issued = await password_grant(PasswordGrant(username, password, client))
        case "refresh_token":
            issued = await refresh_grant(RefreshGrant(required(form, "refresh_token")))
        case other:
            raise UnsupportedGrantType(f"the {other!r} grant type is not supported")
    return _tokens(issued)


@router.post(
    "/refresh",
    response_model=None,
    response_class=JSONBody,
    responses={**_GRANTED, 400: _REFUSED, **problems(422)},
)
async def refresh(body: RefreshIn, handler: deps.RefreshGrant) -> Response:
    """Trade a refresh token for a new pair (it works once: a reused one ends its session)."""
    return _tokens(await handler(RefreshGrant(body.refresh_token)))


@router.post("/logout", status_code=204, responses=problems(401, 422))
async def logout(
    request: Request, actor: CurrentUser, handler: deps.Logout, body: LogoutIn | None = None
) -> Response:
    """End this session at once: the access token, and its refresh family (and that of the
    refresh token sent, if it is the caller's). The body may be empty (not `null`)."""
    if body is None and (await request.body()).strip():  # JSON `null`: not an object
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "Input should be an object", "type": "model_type"}]
        )
    await handler(Logout(actor, body.refresh_token if body else None))
    return Response(status_code=204)


@router.post(
    "/password-recovery",
    status_code=202,
    response_class=Response,  # no body: the OpenAPI document must not promise JSON
    responses={202: {"description": "Whether or not it is an account's."}, **problems(422, 429)},
)
async def password_recovery(
    body: RecoveryIn,
    client: deps.ClientAddress,
    handler: deps.RequestPasswordRecovery,
) -> Response:
    """Mail a single-use reset token to the address if it is an active account's (a job: a
    worker looks the address up). The answer, and its timing, are the same either way, also
    for a string that is not an address."""
    await handler(RequestPasswordRecovery(body.email, client))
    return Response(status_code=202)


@router.post("/password-reset", status_code=204, responses=problems(400, 422, 503))
async def password_reset(body: ResetIn, handler: deps.ResetPassword) -> Response:
    """Set a new password with a reset token (once); every session of the user ends."""
    await handler(ResetPassword(body.token, body.new_password))
    return Response(status_code=204)


def _tokens(issued: TokensIssued) -> Response:
    body = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
    }
    return JSONBody(body, headers=NO_STORE)
