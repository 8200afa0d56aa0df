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


async def load_user_for(uow: UnitOfWork, actor: Actor, user_id: UUID) -> User:
    """Return the account if the actor is it or a superuser; else UserNotFound, as if absent."""
    user = await uow.users.get(user_id) if actor.may_access(user_id) else None
    if user is None:
        raise UserNotFound("user not found")
    return user
