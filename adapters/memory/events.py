"""In-process event delivery: the embedded default's bus, and a recorder for tests."""

from __future__ import annotations

import logging
from collections.abc import Callable

from application.ports.events import LinkWatcher, Subscriber
from domain.events import DomainEvent

log = logging.getLogger(__name__)


class InProcessEventBus:
    """Delivers each published event to every subscriber in this process, in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a subscriber; return a function that unregisters it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def watch(self, watcher: LinkWatcher) -> None:
        """An in-process bus never loses its link: nothing to tell."""

    async def start(self) -> None:
        """Nothing to connect to in one process."""

    async def stop(self) -> None:
        """Nothing to disconnect from in one process."""

    async def publish(self, event: DomainEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("event subscriber failed on %s", event.name)


class RecordingPublisher:
    """Keeps every published event, for tests to inspect."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
