"""In-process event delivery: the embedded default's bus, and a recorder for tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from domain.events import ItemEvent

Subscriber = Callable[[ItemEvent], Awaitable[None]]


class InProcessEventBus:
    """Delivers each published event to every subscriber in this process, in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a subscriber; return a function that unregisters it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def publish(self, event: ItemEvent) -> None:
        for subscriber in list(self._subscribers):
            await subscriber(event)


class RecordingPublisher:
    """Keeps every published event, for tests to inspect."""

    def __init__(self) -> None:
        self.events: list[ItemEvent] = []

    async def publish(self, event: ItemEvent) -> None:
        self.events.append(event)
