"""What authentication remembers of active users' roles, and when it must forget."""

from __future__ import annotations

from uuid import UUID

from domain.events import AccessRevoked, DomainEvent, UserChanged

MAX_REMEMBERED_USERS = 50_000


class KnownUsers:
    """What authentication last read of active users (their role), for a few seconds.

    It forgets a user as soon as an event says their access changed (revocation,
    deactivation, deletion, a role change), in this process or, through the event bus, in
    any other; and it remembers nothing while events cannot be heard. A read that started
    before such an event is not remembered when it ends (each user has a generation that
    every event bumps), so a demotion cannot be undone by a slow read. Between a change's
    commit and its event reaching another process, that process may still act on the old
    role: that delay is the event bus's (milliseconds; see the README).
    """

    def __init__(self, remember_seconds: float = 10.0) -> None:
        self._remember = remember_seconds
        self._roles: dict[UUID, tuple[float, bool]] = {}
        self._generations: dict[UUID, int] = {}
        self._hearing_events = True

    def role(self, user_id: UUID, moment: float) -> bool | None:
        """The remembered superuser flag of an active user, or None if not known now."""
        known = self._roles.get(user_id)
        return known[1] if known is not None and known[0] > moment else None

    def generation(self, user_id: UUID) -> int:
        """Take before reading the user; hand to `remember` after."""
        return self._generations.get(user_id, 0)

    def remember(self, user_id: UUID, is_superuser: bool, moment: float, generation: int) -> None:
        """Remember an active user's role from `moment` on, unless an event about the user
        arrived since `generation` was taken (or events cannot be heard now)."""
        if not self._hearing_events or self.generation(user_id) != generation:
            return
        if len(self._roles) >= MAX_REMEMBERED_USERS:
            self._roles.clear()
            self._generations.clear()
        self._roles[user_id] = (moment + self._remember, is_superuser)

    def link_down(self) -> None:
        """Events that would make it forget may be missed: remember nothing until they flow."""
        self._hearing_events = False
        self._roles.clear()

    async def link_up(self, after_loss: bool) -> None:
        """Events flow again."""
        self._hearing_events = True

    async def forget(self, event: DomainEvent) -> None:
        """Event-bus subscriber: drop what is remembered of a user whose access changed."""
        if isinstance(event, AccessRevoked | UserChanged):
            self._roles.pop(event.user_id, None)
            self._generations[event.user_id] = self.generation(event.user_id) + 1
