"""The event publisher port: where domain events go after a successful commit."""

from typing import Protocol

from collections.abc import Awaitable, Callable

from domain.events import DomainEvent


class EventPublisher(Protocol):
    """Hands committed domain events on (to the cache, to WebSocket subscribers, ...)."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event. Raises DependencyUnavailable when the transport is down."""
        ...


Subscriber = Callable[[DomainEvent], Awaitable[None]]
"""Receives events; must return quickly (hand slow work to a queue of its own)."""


class EventBus(EventPublisher, Protocol):
    """Publishes events to every process, and delivers every process's events to local
    subscribers (in-process when embedded; Redis pub/sub when scaled out)."""

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a local subscriber; return the function that unregisters it."""
        ...
