"""List every account (superusers only)."""

from dataclasses import dataclass

from application.dto import Actor, Page, UserView
from application.errors import InvalidPage
from application.ports.types import UnitOfWorkFactory
from application.use_cases.users.access import require_superuser

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class ListUsers:
    """Show accounts `skip` .. `skip + limit`, oldest first."""

    actor: Actor
    skip: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.skip < 0 or not 1 <= self.limit <= MAX_PAGE:
            raise InvalidPage("skip must be >= 0 and limit 1 to 100")


class ListUsersHandler:
    """A page of all users with the total count."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: ListUsers) -> Page[UserView]:
        require_superuser(cmd.actor)
        async with self._uow() as uow:
            users = await uow.users.list(skip=cmd.skip, limit=cmd.limit)
            total = await uow.users.count()
        return Page([UserView.of(user) for user in users], total)
