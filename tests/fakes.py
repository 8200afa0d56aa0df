"""Fast fakes of the ports that the in-memory adapters do not cover (hashing costs time)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.errors import BlobNotFound, InvalidToken, TokenExpired
from application.ports.blobs import BlobInfo
from application.ports.clock import Clock
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


class InMemoryBlobStore:
    """A BlobStore in a dict, honest to the port: a put that fails (or whose chunks raise)
    leaves nothing; blobs are stamped with the clock's time, so the sweep's age can be set."""

    READ_CHUNK = 64 * 1024

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.blobs: dict[str, tuple[bytes, datetime]] = {}
        self.deleted: list[str] = []

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        data = b"".join([chunk async for chunk in chunks])
        self.blobs[key] = (data, self._clock.now())
        return len(data)

    async def read(
        self, key: str, *, start: int = 0, stop: int | None = None
    ) -> AsyncIterator[bytes]:
        if key not in self.blobs:
            raise BlobNotFound(f"no blob {key}")
        data = self.blobs[key][0][start:stop]
        for at in range(0, len(data), self.READ_CHUNK):
            yield data[at : at + self.READ_CHUNK]

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.blobs.pop(key, None)

    async def list(self, *, older_than: datetime) -> AsyncIterator[BlobInfo]:
        for key, (data, modified_at) in list(self.blobs.items()):
            if modified_at < older_than:
                yield BlobInfo(key, len(data), modified_at)

    def data(self, key: str) -> bytes:
        """The bytes stored under `key` (KeyError if none)."""
        return self.blobs[key][0]
