"""The event publisher port: where domain events go after a successful commit."""

from typing import Protocol

from domain.events import ItemEvent


class EventPublisher(Protocol):
    """Hands committed domain events on (to the cache, to WebSocket subscribers, ...)."""

    async def publish(self, event: ItemEvent) -> None:
        """Deliver one event. Raises DependencyUnavailable when the transport is down."""
        ...
