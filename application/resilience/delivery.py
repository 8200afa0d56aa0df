"""Handing one event to several receivers, so that one failing receiver starves no other."""

import logging
from collections.abc import Iterable

from application.ports.events import Subscriber
from domain.events import DomainEvent

log = logging.getLogger(__name__)


async def deliver(event: DomainEvent, receivers: Iterable[Subscriber]) -> None:
    """Await each receiver in order; a failure is logged and the rest still get the event."""
    for receive in list(receivers):
        try:
            await receive(event)
        except Exception:
            log.exception("%s failed on %s", getattr(receive, "__qualname__", receive), event.name)
