"""Bodies of the session endpoints: the OAuth2 token endpoint, refresh, logout, recovery."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.users import MAX_EMAIL_CHARS
from entrypoints.http.schemas.accounts import NewPassword
from entrypoints.http.schemas.common import SECRET, Input

_ACCESS_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.sig"
_REFRESH_EXAMPLE = "Xq3b5m0cR8Zl2kQvP7nW1yT4uE6iO9aS2dF5gH8jK0L"


class TokenRequest(BaseModel):
    """The token endpoint's form (`application/x-www-form-urlencoded`), for the docs only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"grant_type": "password", "username": "ada@example.com", "password": "secret!1"},
                {"grant_type": "refresh_token", "refresh_token": _REFRESH_EXAMPLE},
            ]
        }
    )

    grant_type: Literal["password", "refresh_token"] = Field(examples=["password"])
    username: str | None = Field(
        None,
        description="`password` grant: the account's email address (required).",
        examples=["ada@example.com"],
    )
    password: str | None = Field(
        None,
        description="`password` grant: the password (required).",
        examples=["correct horse"],
        json_schema_extra=SECRET,
    )
    refresh_token: str | None = Field(
        None, description="`refresh_token` grant: the refresh token (required); it is rotated."
    )
    client_id: str | None = Field(None, description="Accepted and ignored (a public client).")
    scope: str | None = Field(None, description="Accepted and ignored.")


class TokenOut(BaseModel):
    """A successful grant (RFC 6749 §5.1). Store the refresh token: each one works once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": _ACCESS_EXAMPLE,
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": _REFRESH_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(description="Opaque; trade it for new tokens once.")


class OAuthErrorOut(BaseModel):
    """A refused token request (RFC 6749 §5.2)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": "invalid_grant", "error_description": "incorrect email or password"}
            ]
        }
    )

    error: Literal["invalid_request", "invalid_grant", "unsupported_grant_type"]
    error_description: str


class RefreshIn(Input):
    """A refresh token to trade for a new pair."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": _REFRESH_EXAMPLE}]})

    refresh_token: str = Field(json_schema_extra=SECRET)


class LogoutIn(Input):
    """Optionally, the session's refresh token, so that its family ends too."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": _REFRESH_EXAMPLE}]})

    refresh_token: str | None = Field(None, json_schema_extra=SECRET)


class RecoveryIn(Input):
    """The address to mail a reset link to, if it is an account's (the answer never says)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: str = Field(
        max_length=MAX_EMAIL_CHARS,
        description="Any string: one that is not an address is answered like an unknown one.",
    )


class ResetIn(Input):
    """A reset token from the recovery mail and the new password."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"token": _REFRESH_EXAMPLE, "new_password": "battery staple 42"}]
        }
    )

    token: str = Field(max_length=1024, json_schema_extra=SECRET)
    new_password: NewPassword
