"""Bodies of the account endpoints: registration, profiles, passwords, administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.users import (
    MAX_EMAIL_CHARS,
    MAX_FULL_NAME_CHARS,
    MIN_PASSWORD_CHARS,
    EmailAddress,
    Password,
    check_full_name,
)
from entrypoints.http.schemas.common import (
    NO_NUL,
    SECRET,
    TIMESTAMP_EXAMPLE,
    USER_ID_EXAMPLE,
    Input,
    Patch,
    absent_is_not_null,
    domain_rule,
)

# Any string over 72 characters is over 72 UTF-8 bytes: this bound never refuses a password the
# domain's policy (which also counts bytes) would accept, and it caps the work spent on one.
MAX_PASSWORD_CHARS = 72


def new_password_field() -> Any:
    """A password that must meet the policy (checked again, in bytes, by the domain)."""
    return Field(
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        description="8 characters to 72 bytes of UTF-8 (a longer one is refused, never cut): "
        "72 ASCII characters, but only 36 characters such as `é`. No NUL.",
        json_schema_extra={**SECRET, "pattern": NO_NUL},
    )


NewPassword = Annotated[str, new_password_field(), domain_rule(Password)]
Email = Annotated[str, domain_rule(EmailAddress)]
FullName = Annotated[str, domain_rule(check_full_name)]


def _omissible(schema: dict[str, Any]) -> None:
    """An optional field of a PATCH body: absent means unchanged; null is not a value."""
    absent_is_not_null(schema)
    schema["description"] = "May be omitted (unchanged), never null."


def _omissible_email(schema: dict[str, Any]) -> None:
    _omissible(schema)
    schema["format"] = "email"


class RegisterIn(Input):
    """A new account. The domain checks the email's syntax and the password policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse", "full_name": "Ada"}
            ]
        }
    )

    email: Email = Field(max_length=MAX_EMAIL_CHARS, json_schema_extra={"format": "email"})
    password: NewPassword
    full_name: FullName | None = Field(
        None, max_length=MAX_FULL_NAME_CHARS, json_schema_extra={"pattern": NO_NUL}
    )


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


class ProfilePatch(Patch):
    """Changes to my own account: an absent field is left alone; neither may be null."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"full_name": "Ada Lovelace", "email": "ada@example.org"}]}
    )

    # The defaults are never read: only the fields the client sent are applied.
    full_name: FullName = Field("", max_length=MAX_FULL_NAME_CHARS, json_schema_extra=_omissible)
    email: Email = Field("", max_length=MAX_EMAIL_CHARS, json_schema_extra=_omissible_email)


class PasswordChangeIn(Input):
    """My current password, to confirm, and the new one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current_password": "correct horse", "new_password": "battery staple 42"}]
        }
    )

    current_password: str = Field(json_schema_extra=SECRET)
    new_password: NewPassword


class UserAdminPatch(Patch):
    """A superuser's changes to an account: an absent field is left alone; none may be null.

    Deactivating ends every session of the account at once.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"is_active": False}]})

    full_name: FullName = Field("", max_length=MAX_FULL_NAME_CHARS, json_schema_extra=_omissible)
    is_active: bool = Field(False, strict=True, json_schema_extra=_omissible)
    is_superuser: bool = Field(False, strict=True, json_schema_extra=_omissible)
