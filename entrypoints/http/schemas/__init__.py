"""Request and response bodies. Requests are validated here; responses are documented here
but serialised once, straight from the use cases' DTOs (see `rendering`)."""

from entrypoints.http.schemas.accounts import (
    PasswordChangeIn,
    ProfilePatch,
    RegisterIn,
    UserAdminPatch,
    UserOut,
)
from entrypoints.http.schemas.common import FieldError, Health, Problem, ValidationProblem
from entrypoints.http.schemas.items import ItemCreate, ItemOut, ItemPage, ItemPatch
from entrypoints.http.schemas.tokens import (
    LogoutIn,
    OAuthErrorOut,
    RecoveryIn,
    RefreshIn,
    ResetIn,
    TokenOut,
    TokenRequest,
)

__all__ = [
    "FieldError",
    "Health",
    "ItemCreate",
    "ItemOut",
    "ItemPage",
    "ItemPatch",
    "LogoutIn",
    "OAuthErrorOut",
    "PasswordChangeIn",
    "Problem",
    "ProfilePatch",
    "RecoveryIn",
    "RefreshIn",
    "RegisterIn",
    "ResetIn",
    "TokenOut",
    "TokenRequest",
    "UserAdminPatch",
    "UserOut",
    "ValidationProblem",
]
