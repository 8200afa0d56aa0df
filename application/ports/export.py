"""The item export port: one owner's items, written out by the store as an export file.

A port of its own rather than a repository listing: an export is a read model that never
becomes aggregates, and the fastest store writes the file itself. PostgreSQL encodes the rows
as it reads them (`COPY (SELECT ...) TO STDOUT`) at 7 to 14 times the rate of streaming them
through the item repository and encoding them in Python (200,000 items, this project's
machine), while the API process only passes bytes on. What the bytes are is the
application's (application.export_format); how a store produces them is its own.
"""

from collections.abc import AsyncGenerator
from typing import Protocol
from uuid import UUID

from application.export_format import ExportFormat


class ItemExport(Protocol):
    """Every item of one owner, as an export file, streamed."""

    def stream(self, owner_id: UUID, fmt: ExportFormat) -> AsyncGenerator[bytes, None]:
        """Yield the export file of the owner's items in `fmt`, exactly as
        application.export_format writes it: oldest first (created_at, then id), every item
        the owner had in one consistent, read-only snapshot of the store, in chunks of
        bounded size.

        Nothing is read before the first iteration, which takes a database connection (from
        the same fair checkout as every unit of work) and the snapshot, and yields once rows
        are flowing. Memory stays bounded however many items there are: the store produces no
        faster than the caller consumes. The connection is held until the generator finishes
        or is closed (`aclose`, or a cancelled iteration), then released at once.

        Raises (on any iteration) DependencyBusy when no connection came free in time,
        DependencyUnavailable when the store is unreachable or the connection was lost.
        """
        ...
