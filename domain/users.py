"""Users: the account aggregate and the value objects that guard its inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidEmail, InvalidFullName, PasswordPolicyViolation
from domain.text import storable

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no more than this; longer input is refused, never cut
MAX_EMAIL_CHARS = 254
MAX_FULL_NAME_CHARS = 255


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """A mailbox address, trimmed and lower-cased so that comparison ignores case."""

    value: str

    def __post_init__(self) -> None:
        normalised = self.value.strip().lower()
        local, sep, domain = normalised.rpartition("@")
        if (
            not sep
            or len(normalised) > MAX_EMAIL_CHARS
            or not 0 < len(local) <= 64
            or not _LOCAL.match(local)
            or local.startswith(".")
            or local.endswith(".")
            or ".." in local
            or "." not in domain
            or not all(_LABEL.match(label) for label in domain.split("."))
        ):
            raise InvalidEmail("not a valid email address")
        object.__setattr__(self, "value", normalised)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Password:
    """A plain-text password that meets the policy: 8 characters to 72 bytes of UTF-8."""

    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.value) < MIN_PASSWORD_CHARS:
            raise PasswordPolicyViolation(
                f"password must be at least {MIN_PASSWORD_CHARS} characters"
            )
        if not storable(self.value):
            raise PasswordPolicyViolation("password must be text without NUL characters")
        if len(self.value.encode("utf-8")) > MAX_PASSWORD_BYTES:
            raise PasswordPolicyViolation(
                f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8"
            )


def check_full_name(full_name: str | None) -> str | None:
    """Return the full name if it fits the rule, else raise InvalidFullName."""
    if full_name is not None and (len(full_name) > MAX_FULL_NAME_CHARS or not storable(full_name)):
        raise InvalidFullName(f"full name must be at most {MAX_FULL_NAME_CHARS} characters")
    return full_name


@dataclass(eq=False)
class User:
    """An account. Identity is the id; the password is only ever held as a hash."""

    id: UUID
    email: EmailAddress
    hashed_password: str = field(repr=False)
    full_name: str | None
    created_at: datetime
    is_active: bool = True
    is_superuser: bool = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @classmethod
    def register(
        cls,
        *,
        user_id: UUID,
        email: EmailAddress,
        hashed_password: str,
        full_name: str | None,
        now: datetime,
    ) -> User:
        """Open a new, active, non-superuser account."""
        return cls(user_id, email, hashed_password, check_full_name(full_name), now)

    def change_profile(self, *, email: EmailAddress | None, full_name: str | None) -> None:
        """Replace the email and/or full name that were given."""
        if email is not None:
            self.email = email
        if full_name is not None:
            self.full_name = check_full_name(full_name)

    def change_password_hash(self, hashed_password: str) -> None:
        """Store a new password hash (after a change, a reset or a rehash)."""
        self.hashed_password = hashed_password

    def deactivate(self) -> None:
        """Stop the account: it can no longer obtain or use tokens."""
        self.is_active = False

    def activate(self) -> None:
        """Let the account sign in again."""
        self.is_active = True

    def set_superuser(self, value: bool) -> None:
        """Grant or withdraw the superuser role."""
        self.is_superuser = value
