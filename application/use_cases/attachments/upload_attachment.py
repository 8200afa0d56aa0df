"""Attach a file to an item: the bytes are stored first, the record is committed after them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

from application.dto import Actor, AttachmentView
from application.errors import AttachmentLimitReached, EmptyUpload, UploadTooLarge
from application.ports import Clock, UnitOfWork
from application.ports.blobs import BlobStore
from application.ports.types import UnitOfWorkFactory
from application.services.item_access import load_item_for
from domain.attachments import Attachment, blob_key
from domain.ids import new_id
from domain.items import Item

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UploadAttachment:
    """Attach the bytes `content` yields to this item, under the client's file name and
    media type (either may be None; both are made safe)."""

    actor: Actor
    item_id: UUID
    filename: str | None
    content_type: str | None
    content: AsyncIterable[bytes] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """MAX_UPLOAD_BYTES per attachment, MAX_ATTACHMENTS_PER_ITEM per item."""

    max_bytes: int
    max_per_item: int


class UploadAttachmentHandler:
    """Stores an upload and records it, so that an attachment exists only once its bytes do.

    1. The item must be reachable (else ItemNotFound) and have room (else
       AttachmentLimitReached), checked before a byte of `content` is read.
    2. The bytes stream into the blob store while they are counted and hashed; past
       `max_bytes` the upload stops at once (UploadTooLarge), no byte at all is EmptyUpload,
       and either way the store keeps nothing.
    3. One transaction checks the item and its room again, now held against concurrent
       uploads, and commits the record. Should that fail, the bytes are deleted (unless the
       record was committed after all); a crash in between leaves them to the orphan sweep.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, blobs: BlobStore, clock: Clock, limits: AttachmentLimits
    ) -> None:
        self._uow, self._blobs, self._clock, self._limits = uow, blobs, clock, limits

    async def __call__(self, cmd: UploadAttachment) -> AttachmentView:
        async with self._uow() as uow:
            await self._room_on(uow, cmd.actor, cmd.item_id)
        attachment_id = new_id(self._clock.now())
        metered = MeteredUpload(cmd.content, self._limits.max_bytes)
        await self._blobs.put(blob_key(attachment_id), metered.chunks())
        try:
            return await self._record(cmd, attachment_id, metered)
        except BaseException:
            await self._discard(attachment_id)
            raise

    async def _record(
        self, cmd: UploadAttachment, attachment_id: UUID, metered: MeteredUpload
    ) -> AttachmentView:
        async with self._uow() as uow:
            item = await self._room_on(uow, cmd.actor, cmd.item_id, for_update=True)
            attachment = Attachment.store(
                attachment_id=attachment_id,
                item_id=item.id,
                owner_id=item.owner_id,
                filename=cmd.filename,
                content_type=cmd.content_type,
                size=metered.size,
                sha256=metered.sha256,
                now=self._clock.now(),
            )
            await uow.attachments.add(attachment)
            await uow.commit()
        return AttachmentView.of(attachment)

    async def _room_on(
        self, uow: UnitOfWork, actor: Actor, item_id: UUID, *, for_update: bool = False
    ) -> Item:
        """The item, if the actor may reach it and it can take one more attachment."""
        item = await load_item_for(uow, actor, item_id, for_update=for_update)
        if await uow.attachments.count_for_item(item.id) >= self._limits.max_per_item:
            raise AttachmentLimitReached(
                f"an item has at most {self._limits.max_per_item} attachments"
            )
        return item

    async def _discard(self, attachment_id: UUID) -> None:
        """Delete stored bytes that no record claims; on any doubt leave them to the sweep
        (a commit whose answer was lost may have recorded them after all)."""
        try:
            async with self._uow() as uow:
                recorded = await uow.attachments.existing({attachment_id})
            if not recorded:
                await self._blobs.delete(blob_key(attachment_id))
        except Exception:
            log.warning("could not delete the bytes of unrecorded upload %s", attachment_id)


HASH_BATCH_BYTES = 256 * 1024
"""Chunks are passed on (and hashed) in batches of about this size."""


class MeteredUpload:
    """An upload's chunks passed on while counted and hashed; `size` and `sha256` (lowercase
    hex) describe what was passed on once the chunks are exhausted."""

    def __init__(self, content: AsyncIterable[bytes], max_bytes: int) -> None:
        self._content, self._max_bytes = content, max_bytes
        self._digest = hashlib.sha256()
        self.size = 0

    async def _hashed(self, pending: list[bytes]) -> bytes:
        """The chunks as one batch, hashed in a worker thread: hashing 100 MiB takes a core
        for a fraction of a second, which on the event loop every other request would wait
        for (hashlib lets go of the GIL for large buffers)."""
        batch = pending[0] if len(pending) == 1 else b"".join(pending)
        await asyncio.to_thread(self._digest.update, batch)
        return batch

    @property
    def sha256(self) -> str:
        """The lowercase hex SHA-256 of the bytes passed on so far."""
        return self._digest.hexdigest()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the content's non-empty chunks. Raises UploadTooLarge before passing on a
        chunk that would exceed the limit, EmptyUpload at the end when there was no byte;
        either way the content is closed at once (reading stops)."""
        source = aiter(self._content)
        pending: list[bytes] = []
        pending_bytes = 0
        try:
            async for chunk in source:
                if not chunk:
                    continue
                self.size += len(chunk)
                if self.size > self._max_bytes:
                    raise UploadTooLarge(f"an upload may be at most {self._max_bytes} bytes")
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes >= HASH_BATCH_BYTES:
                    yield await self._hashed(pending)
                    pending, pending_bytes = [], 0
            if pending:
                yield await self._hashed(pending)
            if self.size == 0:
                raise EmptyUpload("an attachment must have at least one byte")
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
