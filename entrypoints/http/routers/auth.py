"""Accounts and sign-in: registration and the OAuth2 token endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from application.use_cases.accounts.password_grant import PasswordGrant
from application.use_cases.accounts.register_user import RegisterUser
from application.use_cases.accounts.sessions import TokensIssued
from entrypoints.http import deps
from entrypoints.http.oauth import NO_STORE, UnsupportedGrantType, read_form, required
from entrypoints.http.openapi import header, problems
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas import OAuthErrorOut, RegisterIn, TokenOut, TokenRequest, UserOut

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_FORM = "application/x-www-form-urlencoded"
_TOKEN_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {_FORM: {"schema": TokenRequest.model_json_schema()}},
    }
}


@router.post(
    "/register",
    status_code=201,
    response_model=None,
    response_class=JSONBody,
    responses={
        201: {"model": UserOut, "headers": {"Location": header("The new user's URL.")}},
        **problems(409, 422),
    },
)
async def register(body: RegisterIn, handler: deps.RegisterUser) -> Response:
    """Open an account. The email is unique whatever its case."""
    user = await handler(RegisterUser(body.email, body.password, body.full_name))
    return JSONBody(user, 201, {"Location": f"/api/v1/users/{user.id}"})


@router.post(
    "/token",
    response_model=None,
    response_class=JSONBody,
    openapi_extra=_TOKEN_DOCS,
    responses={
        200: {"model": TokenOut, "headers": {"Cache-Control": header("`no-store`")}},
        400: {"model": OAuthErrorOut, "description": "RFC 6749 §5.2: one body for any bad login."},
        **problems(429),
    },
)
async def token(
    request: Request, client: deps.ClientAddress, password_grant: deps.PasswordGrant
) -> Response:
    """OAuth2 token endpoint (form-encoded, RFC 6749 §4.3). Errors are RFC 6749 §5.2 bodies."""
    form = await read_form(request)
    match required(form, "grant_type"):
        case "password":
            username, password = required(form, "username"), required(form, "password")
            issued = await password_grant(PasswordGrant(username, password, client))
        case other:
            raise UnsupportedGrantType(f"the {other!r} grant type is not supported")
    return _tokens(issued)


def _tokens(issued: TokensIssued) -> Response:
    body = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
    }
    return JSONBody(body, headers=NO_STORE)
