"""`Annotated` dependencies: the caller, and the handlers, fetched from the app's container.

Every dependency is `async def`: FastAPI runs a plain `def` one in a thread pool, which costs
more than the work it does. Handlers are the container's Singletons: nothing is built here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from application.dto import Actor
from application.errors import AuthenticationFailed
from application.use_cases.accounts.authenticate import Authenticate, AuthenticateHandler
from application.use_cases.accounts.change_password import ChangePasswordHandler
from application.use_cases.accounts.get_current_user import GetCurrentUserHandler
from application.use_cases.accounts.logout import LogoutHandler
from application.use_cases.accounts.password_grant import PasswordGrantHandler
from application.use_cases.accounts.password_recovery import (
    RequestPasswordRecoveryHandler,
    SendPasswordRecoveryHandler,
)
from application.use_cases.accounts.refresh_grant import RefreshGrantHandler
from application.use_cases.accounts.register_user import RegisterUserHandler
from application.use_cases.accounts.reset_password import ResetPasswordHandler
from application.use_cases.items.create_item import CreateItemHandler
from application.use_cases.items.delete_item import DeleteItemHandler
from application.use_cases.items.get_item import GetItemHandler
from application.use_cases.items.list_items import ListItemsHandler
from application.use_cases.items.list_items_by_cursor import ListItemsByCursorHandler
from application.use_cases.items.update_item import UpdateItemHandler
from application.use_cases.users.administer_user import AdministerUserHandler
from application.use_cases.users.delete_user import DeleteUserHandler
from application.use_cases.users.get_user import GetUserHandler
from application.use_cases.users.list_users import ListUsersHandler
from application.use_cases.users.update_profile import UpdateProfileHandler
from entrypoints.http.clients import ClientAddressResolver

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
OAUTH2_SCHEME = "OAuth2PasswordBearer"


def _from_container(name: str) -> Callable[[Request], Awaitable[Any]]:
    async def provide(request: Request) -> Any:
        return getattr(request.app.state.container, name)()

    provide.__name__ = f"provide_{name}"
    return provide


class BearerAuthentication(OAuth2PasswordBearer):
    """The caller, from `Authorization: Bearer <access token>`.

    The dependency is itself the security scheme, so FastAPI documents it on every operation
    that uses it without solving a sub-dependency per request (each costs ~15 µs); the OpenAPI
    document lists HTTP Bearer beside it (see `openapi.PorticoAPI`). No, or a non-Bearer,
    `Authorization` header: 401 `Bearer`; a token that does not verify: 401
    `Bearer error="invalid_token"` (raised by the handler).
    """

    def __init__(self) -> None:
        super().__init__(tokenUrl=TOKEN_URL, scheme_name=OAUTH2_SCHEME, auto_error=False)

    async def __call__(self, request: Request) -> Actor:  # type: ignore[override]
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":
            raise AuthenticationFailed("a Bearer access token is required")
        authenticate: AuthenticateHandler = request.app.state.container.authenticate()
        return await authenticate(Authenticate(token))


async def client_address(request: Request) -> str:
    """The client's address, through trusted proxies only (see ClientAddressResolver)."""
    resolve: ClientAddressResolver = request.app.state.client_addresses
    peer = request.client.host if request.client else None
    return resolve(peer, request.headers.get("x-forwarded-for"))


CurrentUser = Annotated[Actor, Depends(BearerAuthentication())]
ClientAddress = Annotated[str, Depends(client_address)]

RegisterUser = Annotated[RegisterUserHandler, Depends(_from_container("register_user"))]
PasswordGrant = Annotated[PasswordGrantHandler, Depends(_from_container("password_grant"))]
RefreshGrant = Annotated[RefreshGrantHandler, Depends(_from_container("refresh_grant"))]
Logout = Annotated[LogoutHandler, Depends(_from_container("logout"))]
RequestPasswordRecovery = Annotated[
    RequestPasswordRecoveryHandler, Depends(_from_container("request_password_recovery"))
]
ResetPassword = Annotated[ResetPasswordHandler, Depends(_from_container("reset_password"))]
SendPasswordRecovery = Annotated[
    SendPasswordRecoveryHandler, Depends(_from_container("send_password_recovery"))
]
GetCurrentUser = Annotated[GetCurrentUserHandler, Depends(_from_container("get_current_user"))]
UpdateProfile = Annotated[UpdateProfileHandler, Depends(_from_container("update_profile"))]
ChangePassword = Annotated[ChangePasswordHandler, Depends(_from_container("change_password"))]
DeleteUser = Annotated[DeleteUserHandler, Depends(_from_container("delete_user"))]
GetUser = Annotated[GetUserHandler, Depends(_from_container("get_user"))]
ListUsers = Annotated[ListUsersHandler, Depends(_from_container("list_users"))]
AdministerUser = Annotated[AdministerUserHandler, Depends(_from_container("administer_user"))]
CreateItem = Annotated[CreateItemHandler, Depends(_from_container("create_item"))]
GetItem = Annotated[GetItemHandler, Depends(_from_container("get_item"))]
ListItems = Annotated[ListItemsHandler, Depends(_from_container("list_items"))]
ListItemsByCursor = Annotated[
    ListItemsByCursorHandler, Depends(_from_container("list_items_by_cursor"))
]
UpdateItem = Annotated[UpdateItemHandler, Depends(_from_container("update_item"))]
DeleteItem = Annotated[DeleteItemHandler, Depends(_from_container("delete_item"))]
