"""Ports: the interfaces use cases need, implemented by adapters."""

from application.ports.clock import Clock
from application.ports.events import EventPublisher
from application.ports.notifications import EmailMessage, EmailSender
from application.ports.rate_limits import RateLimit, RateLimiter
from application.ports.repositories import ItemRepository, UserRepository
from application.ports.security import AccessClaims, IssuedToken, PasswordHasher, TokenService
from application.ports.sessions import (
    PasswordResetTokenRepository,
    RefreshTokenRepository,
    TokenDenylist,
)
from application.ports.unit_of_work import UnitOfWork

__all__ = [
    "AccessClaims",
    "Clock",
    "EmailMessage",
    "EmailSender",
    "EventPublisher",
    "IssuedToken",
    "ItemRepository",
    "PasswordHasher",
    "PasswordResetTokenRepository",
    "RateLimit",
    "RateLimiter",
    "RefreshTokenRepository",
    "TokenDenylist",
    "TokenService",
    "UnitOfWork",
    "UserRepository",
]
