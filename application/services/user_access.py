"""Who may see and manage which account."""

from uuid import UUID

from application.dto import Actor
from application.errors import PermissionDenied, UserNotFound
from application.ports.unit_of_work import UnitOfWork
from domain.users import User


def require_superuser(actor: Actor) -> None:
    """Raise PermissionDenied unless the actor is a superuser."""
    if not actor.is_superuser:
        raise PermissionDenied("this action needs a superuser")


async def load_user_for(
    uow: UnitOfWork, actor: Actor, user_id: UUID, *, for_update: bool = False
) -> User:
    """Return the account if the actor is it or a superuser; else UserNotFound, as if absent.

    `for_update` holds it against concurrent changes, for a read that will be written back.
    """
    if not actor.may_access(user_id):
        raise UserNotFound("user not found")
    users = uow.users
    user = await (users.get_for_update(user_id) if for_update else users.get(user_id))
    if user is None:
        raise UserNotFound("user not found")
    return user
