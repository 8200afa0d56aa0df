"""The event publisher port: where domain events go after a successful commit."""

from collections.abc import Awaitable, Callable
from typing import Protocol

from domain.events import DomainEvent


class EventPublisher(Protocol):
    """Hands committed domain events on (to the cache, to WebSocket subscribers, ...)."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event. Raises DependencyUnavailable when the transport is down."""
        ...


Subscriber = Callable[[DomainEvent], Awaitable[None]]
"""Receives events; must return quickly (hand slow work to a queue of its own)."""


class LinkWatcher(Protocol):
    """Keeps per-process state honest across outages of the shared event transport.

    While the link is down this process hears no events, so state that events keep fresh
    (remembered roles, a shared cache, a copy of the denylist) must stop being trusted.
    """

    def link_down(self) -> None:
        """The bus lost its transport: events may be missed from now on."""
        ...

    async def link_up(self, after_loss: bool) -> None:
        """The bus is (again) hearing every event; `after_loss` when some may have been missed."""
        ...


class EventBus(EventPublisher, Protocol):
    """Publishes events to every process, and delivers every process's events to local
    subscribers (in-process when embedded; Redis pub/sub when scaled out)."""

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a local subscriber; return the function that unregisters it."""
        ...

    def watch(self, watcher: LinkWatcher) -> None:
        """Tell `watcher` whenever the bus loses or regains its transport."""
        ...

    async def start(self) -> None:
        """Start hearing other processes' events (and tell the watchers once it does)."""
        ...

    async def stop(self) -> None:
        """Stop hearing events and release the transport."""
        ...


class LiveUpdates(LinkWatcher, Protocol):
    """This process's live connections (the WebSocket hub): they hear item changes and close
    when their access ends."""

    async def dispatch(self, event: DomainEvent) -> None:
        """Offer `event` to every connection that may see it; never waits for a slow one."""
        ...
