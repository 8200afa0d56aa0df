"""Ports: the interfaces use cases need, implemented by adapters."""

from application.ports.clock import Clock
from application.ports.events import EventPublisher
from application.ports.repositories import ItemRepository, UserRepository
from application.ports.security import AccessClaims, IssuedToken, PasswordHasher, TokenService
from application.ports.unit_of_work import UnitOfWork

__all__ = [
    "AccessClaims",
    "Clock",
    "EventPublisher",
    "IssuedToken",
    "ItemRepository",
    "PasswordHasher",
    "TokenService",
    "UnitOfWork",
    "UserRepository",
]
