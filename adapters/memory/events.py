"""In-process event delivery: the embedded default's bus, and a recorder for tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.ports.events import LinkWatcher, Subscriber
from application.ports.jobs import NewJob
from application.resilience.delivery import deliver
from domain.events import DomainEvent


class InProcessEventBus:
    """Delivers each published event to every subscriber in this process, in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._watchers: list[LinkWatcher] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a subscriber; return a function that unregisters it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def watch(self, watcher: LinkWatcher) -> None:
        """An in-process bus never loses its link: watchers only hear that it is up."""
        self._watchers.append(watcher)

    async def start(self) -> None:
        """Nothing to connect to in one process: every event is heard from the start."""
        for watcher in self._watchers:
            await watcher.link_up(after_loss=False)

    async def stop(self) -> None:
        """Nothing to disconnect from in one process."""

    async def publish(self, event: DomainEvent) -> None:
        await deliver(event, self._subscribers)


class RecordingPublisher:
    """Keeps every published (or committed) event, for tests to inspect. As a unit of work's
    reactions it writes no jobs: a stand-in for the message bus where only events matter."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.events.append(event)

    def outbox(self, messages: Sequence[object]) -> list[NewJob]:
        return []

    async def committed(self, events: Sequence[DomainEvent], jobs: Sequence[NewJob]) -> None:
        self.events.extend(events)
