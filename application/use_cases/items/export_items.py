"""Export the caller's own items as one file, streamed (NDJSON or CSV)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from application.dto import Actor
from application.export_format import ExportFormat
from application.ports.export import ItemExport


@dataclass(frozen=True, slots=True)
class ExportItems:
    """Give me all my items, oldest first, as one file in `format`."""

    actor: Actor
    format: ExportFormat = ExportFormat.NDJSON


class ExportItemsHandler:
    """Every item the caller owns (a superuser too exports only their own, as the v1 list
    shows them), from one snapshot, as a stream of encoded chunks.

    The stream is started before this returns, so that a busy or unreachable database raises
    here (DependencyBusy, DependencyUnavailable), before anything is sent; later chunks may
    still raise DependencyUnavailable if the connection is lost midway. Closing the stream
    (`aclose`) releases its database connection at once.
    """

    def __init__(self, export: ItemExport) -> None:
        self._export = export

    async def __call__(self, cmd: ExportItems) -> AsyncGenerator[bytes, None]:
        chunks = self._export.stream(cmd.actor.user_id, cmd.format)
        first = await anext(chunks, b"")
        return _resumed(first, chunks)


async def _resumed(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """`first`, then whatever `rest` yields; closing this closes `rest`."""
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()
