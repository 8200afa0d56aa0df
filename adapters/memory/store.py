"""The in-memory database: committed rows, copied in and out so callers never share objects."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from adapters.memory.idempotency import Key, StoredRecord
from adapters.memory.jobs import StoredJob
from domain.attachments import Attachment
from domain.items import Item
from domain.sessions import PasswordResetToken, RefreshToken
from domain.users import User


@dataclass
class MemoryStore:
    """Committed rows of the in-memory adapters; one per process (or per test).

    `lock` serialises transactions, which gives them serializable isolation: the honest
    reference behaviour the contract tests hold the SQL adapters to.
    """

    users: dict[UUID, User] = field(default_factory=dict)
    items: dict[UUID, Item] = field(default_factory=dict)
    attachments: dict[UUID, Attachment] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    reset_tokens: dict[UUID, PasswordResetToken] = field(default_factory=dict)
    idempotency: dict[Key, StoredRecord] = field(default_factory=dict)
    jobs: dict[UUID, StoredJob] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
