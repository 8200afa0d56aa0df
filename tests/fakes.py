"""Fast fakes of the ports that the in-memory adapters do not cover (hashing costs time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.errors import InvalidToken, TokenExpired
from application.ports.notifications import EmailMessage
from application.ports.security import AccessClaims, IssuedToken
from domain.events import DomainEvent
from domain.users import MAX_PASSWORD_BYTES, Password


class FakePasswordHasher:
    """A reversible 'hash' that records calls, so tests can see which path a login took."""

    def __init__(self, rounds: int = 1) -> None:
        self.rounds = rounds
        self.calls: list[str] = []

    async def hash(self, password: Password) -> str:
        self.calls.append("hash")
        return f"fake${self.rounds}${password.value}"

    async def verify(self, password: str, hashed: str) -> bool:
        self.calls.append("verify")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            return False
        return hashed.split("$", 2)[2:] == [password]

    async def dummy_verify(self, password: str) -> None:
        self.calls.append("dummy_verify")

    def needs_rehash(self, hashed: str) -> bool:
        return int(hashed.split("$")[1]) < self.rounds


class FakeTokenService:
    """Tokens of the form `user-id|token-id|expiry`, checked against the caller's clock."""

    def __init__(self, ttl_seconds: int = 900) -> None:
        self.ttl = ttl_seconds
        self._counter = 0

    def issue_access(
        self, user_id: UUID, now: datetime, session_id: UUID | None = None
    ) -> IssuedToken:
        self._counter += 1
        expires_at = now + timedelta(seconds=self.ttl)
        token_id = f"t{self._counter}"
        token = f"{user_id}|{token_id}|{expires_at.timestamp()}|{now.timestamp()}|{session_id}"
        return IssuedToken(token, token_id, expires_at, self.ttl)

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        try:
            user, token_id, expiry, issued, session = token.split("|")
            claims = AccessClaims(
                UUID(user),
                token_id,
                datetime.fromtimestamp(float(issued), UTC),
                datetime.fromtimestamp(float(expiry), UTC),
                None if session == "None" else UUID(session),
            )
        except ValueError as exc:
            raise InvalidToken("malformed token") from exc
        if now >= claims.expires_at:
            raise TokenExpired("expired")
        return claims


class RecordingEmailSender:
    """Keeps every message it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


class RecordingLiveUpdates:
    """Stands in for the WebSocket hub: keeps what it was handed and what it heard of the bus."""

    def __init__(self) -> None:
        self.dispatched: list[DomainEvent] = []
        self.links: list[str] = []

    async def dispatch(self, event: DomainEvent) -> None:
        self.dispatched.append(event)

    def link_down(self) -> None:
        self.links.append("down")

    async def link_up(self, after_loss: bool) -> None:
        self.links.append("up after loss" if after_loss else "up")


class DeafDenylistCopy:
    """A denylist copy for worlds whose revoker writes straight to one in-memory denylist."""

    async def hear(self, event: DomainEvent) -> None:
        pass

    def link_down(self) -> None:
        pass

    async def link_up(self, after_loss: bool) -> None:
        pass
