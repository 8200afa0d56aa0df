"""Request and response bodies. Requests are validated here; responses are documented here
but serialised once, straight from the use cases' DTOs (see `rendering`)."""

from entrypoints.http.schemas.accounts import (
    OAuthErrorOut,
    RegisterIn,
    TokenOut,
    TokenRequest,
    UserOut,
)
from entrypoints.http.schemas.common import FieldError, Health, Problem, ValidationProblem
from entrypoints.http.schemas.items import ItemCreate, ItemOut, ItemPage, ItemPatch

__all__ = [
    "FieldError",
    "Health",
    "ItemCreate",
    "ItemOut",
    "ItemPage",
    "ItemPatch",
    "OAuthErrorOut",
    "Problem",
    "RegisterIn",
    "TokenOut",
    "TokenRequest",
    "UserOut",
    "ValidationProblem",
]
