"""Users: the account aggregate and the value objects that guard its inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidEmail, InvalidFullName, PasswordPolicyViolation
from domain.events import AccessRevoked, DomainEvent, UserChanged, UserRegistered
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
    """An account. Identity is the id; the password is only ever held as a hash.

    Every change that others must hear of records an event, and only when something really
    changed: a new role or activation records `UserChanged`; ending sessions records
    `AccessRevoked`; registering records `UserRegistered`. A new name or email records none,
    so nobody's live connections are closed for it.
    """

    id: UUID
    email: EmailAddress
    hashed_password: str = field(repr=False)
    full_name: str | None
    created_at: datetime
    is_active: bool = True
    is_superuser: bool = False
    events: list[DomainEvent] = field(default_factory=list, repr=False)

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
        """Open a new, active, non-superuser account and record UserRegistered."""
        user = cls(user_id, email, hashed_password, check_full_name(full_name), now)
        user.events.append(UserRegistered(user_id, email.value, user.full_name, now))
        return user

    def change_profile(self, *, email: EmailAddress | None, full_name: str | None) -> None:
        """Replace the email and/or full name that were given (no event: access is unchanged)."""
        if email is not None:
            self.email = email
        if full_name is not None:
            self.full_name = check_full_name(full_name)

    def change_password_hash(self, hashed_password: str) -> None:
        """Store a new password hash (after a change, a reset or a rehash). Ending the
        sessions that the old password opened is `end_sessions`'s part."""
        self.hashed_password = hashed_password

    def deactivate(self, *, now: datetime) -> None:
        """Stop the account: it can no longer obtain or use tokens. Records UserChanged."""
        if self.is_active:
            self.is_active = False
            self.events.append(UserChanged(self.id, now))

    def activate(self, *, now: datetime) -> None:
        """Let the account sign in again. Records UserChanged."""
        if not self.is_active:
            self.is_active = True
            self.events.append(UserChanged(self.id, now))

    def change_role(self, *, is_superuser: bool, now: datetime) -> None:
        """Grant or withdraw the superuser role. Records UserChanged."""
        if self.is_superuser != is_superuser:
            self.is_superuser = is_superuser
            self.events.append(UserChanged(self.id, now))

    def end_sessions(self, *, now: datetime, keep_token_id: str | None = None) -> None:
        """Every access token issued until `now` stops working but `keep_token_id` (the
        caller's own, after a password change). Records AccessRevoked."""
        self.events.append(AccessRevoked(self.id, now, keep_token_id=keep_token_id))

    def end_session(self, session_id: UUID, *, now: datetime) -> None:
        """Every access token of one session stops working. Records AccessRevoked."""
        self.events.append(AccessRevoked(self.id, now, session_id=session_id))

    def sign_out(self, token_id: str, *, now: datetime) -> None:
        """One access token stops working (a logout). Records AccessRevoked."""
        self.events.append(AccessRevoked(self.id, now, token_id=token_id))
