"""List every account (superusers only)."""

from dataclasses import dataclass

from application.dto import Actor, Page, UserView
from application.paging import DEFAULT_PAGE, check_page
from application.ports.types import UnitOfWorkFactory
from application.services.user_access import require_superuser


@dataclass(frozen=True, slots=True)
class ListUsers:
    """Show accounts `skip` .. `skip + limit`, oldest first."""

    actor: Actor
    skip: int = 0
    limit: int = DEFAULT_PAGE

    def __post_init__(self) -> None:
        check_page(self.skip, self.limit)


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
