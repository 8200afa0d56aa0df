"""Download an attachment: its record first (for the headers), then its bytes, in a range."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, AttachmentView
from application.ports.blobs import BlobStore
from application.ports.types import UnitOfWorkFactory
from application.use_cases.attachments.access import load_attachment_for
from domain.attachments import blob_key


@dataclass(frozen=True, slots=True)
class DownloadAttachment:
    """Give me this attachment: its record, and its bytes when I ask for them."""

    actor: Actor
    item_id: UUID
    attachment_id: UUID


@dataclass(frozen=True, slots=True)
class AttachmentDownload:
    """An attachment found for download: `attachment` (size, sha256, name, type) is known
    before any byte is read; `read` streams its bytes."""

    attachment: AttachmentView
    _blobs: BlobStore

    def read(self, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes [start, stop) of the attachment (stop None: to the end), in chunks of
        bounded size. Raises ValueError for a range outside 0..size (the caller resolves
        ranges against `attachment.size`); BlobNotFound (on first iteration) if the bytes
        are gone, DependencyUnavailable if the blob store is unreachable."""
        size = self.attachment.size
        end = size if stop is None else stop
        if not 0 <= start <= end <= size:
            raise ValueError(f"range {start}..{end} is outside 0..{size}")
        return self._blobs.read(blob_key(self.attachment.id), start=start, stop=end)


class DownloadAttachmentHandler:
    """Finds the attachment of an item the caller may reach (ItemNotFound or
    AttachmentNotFound otherwise) and hands back its record with a way to read its bytes.
    No byte is read until the caller iterates `read(...)`."""

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore) -> None:
        self._uow, self._blobs = uow, blobs

    async def __call__(self, cmd: DownloadAttachment) -> AttachmentDownload:
        async with self._uow() as uow:
            attachment = await load_attachment_for(uow, cmd.actor, cmd.item_id, cmd.attachment_id)
        return AttachmentDownload(AttachmentView.of(attachment), self._blobs)
