"""Bodies of the account endpoints: registration, users, the OAuth2 token endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.users import MAX_EMAIL_CHARS, MAX_FULL_NAME_CHARS, MIN_PASSWORD_CHARS
from entrypoints.http.schemas.common import TIMESTAMP_EXAMPLE, USER_ID_EXAMPLE, Input

# Any string over 72 characters is over 72 UTF-8 bytes: this bound never refuses a password the
# domain's policy (which also counts bytes) would accept, and it caps the work spent on one.
MAX_PASSWORD_CHARS = 72


class RegisterIn(Input):
    """A new account. The domain checks the email's syntax and the password policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse", "full_name": "Ada"}
            ]
        }
    )

    email: str = Field(max_length=MAX_EMAIL_CHARS, json_schema_extra={"format": "email"})
    password: str = Field(
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        description="8 characters to 72 bytes of UTF-8 (a longer one is refused, never cut).",
        json_schema_extra={"format": "password", "writeOnly": True},
    )
    full_name: str | None = Field(None, max_length=MAX_FULL_NAME_CHARS)


class UserOut(BaseModel):
    """An account as clients see it (never the password hash)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": USER_ID_EXAMPLE,
                    "email": "ada@example.com",
                    "full_name": "Ada",
                    "is_active": True,
                    "is_superuser": False,
                    "created_at": TIMESTAMP_EXAMPLE,
                }
            ]
        }
    )

    id: UUID
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime


class TokenRequest(BaseModel):
    """The token endpoint's form (`application/x-www-form-urlencoded`), for the docs only."""

    grant_type: Literal["password"]
    username: str = Field(description="The account's email address.")
    password: str = Field(json_schema_extra={"format": "password"})
    client_id: str | None = Field(None, description="Accepted and ignored (a public client).")
    scope: str | None = Field(None, description="Accepted and ignored.")


class TokenOut(BaseModel):
    """A successful grant (RFC 6749 §5.1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.sig",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": None,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    refresh_token: str | None


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
