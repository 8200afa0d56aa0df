"""`Annotated` dependencies: the caller, and the handlers, taken from the app's container.

Every dependency is `async def`: FastAPI runs a plain `def` one in a thread pool, which costs
more than the work it does. Handlers are the container's Singletons: nothing is built here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from application.dto import Actor
from application.errors import AuthenticationFailed
from application.use_cases.accounts.authenticate import Authenticate, AuthenticateHandler
from application.use_cases.accounts.change_password import ChangePasswordHandler
from application.use_cases.accounts.get_current_user import GetCurrentUserHandler
from application.use_cases.accounts.logout import LogoutHandler
from application.use_cases.accounts.password_grant import PasswordGrantHandler
from application.use_cases.accounts.password_recovery import RequestPasswordRecoveryHandler
from application.use_cases.accounts.refresh_grant import RefreshGrantHandler
from application.use_cases.accounts.register_user import RegisterUserHandler
from application.use_cases.accounts.reset_password import ResetPasswordHandler
from application.use_cases.attachments.delete_attachment import DeleteAttachmentHandler
from application.use_cases.attachments.download_attachment import DownloadAttachmentHandler
from application.use_cases.attachments.list_attachments import ListAttachmentsHandler
from application.use_cases.attachments.upload_attachment import UploadAttachmentHandler
from application.use_cases.items.create_item import CreateItemHandler
from application.use_cases.items.delete_item import DeleteItemHandler
from application.use_cases.items.export_items import ExportItemsHandler
from application.use_cases.items.get_item import GetItemHandler
from application.use_cases.items.list_items import ListItemsHandler
from application.use_cases.items.list_items_by_cursor import ListItemsByCursorHandler
from application.use_cases.items.update_item import UpdateItemHandler
from application.use_cases.users.administer_user import AdministerUserHandler
from application.use_cases.users.delete_user import DeleteUserHandler
from application.use_cases.users.get_user import GetUserHandler
from application.use_cases.users.list_users import ListUsersHandler
from application.use_cases.users.update_profile import UpdateProfileHandler
from entrypoints.container import Container
from entrypoints.http.clients import ClientAddressResolver

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
OAUTH2_SCHEME = "OAuth2PasswordBearer"
T = TypeVar("T")


def _handler(pick: Callable[[Container], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that hands over what `pick` takes from the app's container: a reference
    (`lambda c: c.register_user()`) that an IDE and a call-graph walk can follow."""

    async def provide(request: Request) -> T:
        return pick(request.app.state.container)

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
        container: Container = request.app.state.container
        authenticate: AuthenticateHandler = container.authenticate()
        return await authenticate(Authenticate(token))


async def client_address(request: Request) -> str:
    """The client's address, through trusted proxies only (see ClientAddressResolver)."""
    resolve: ClientAddressResolver = request.app.state.client_addresses
    peer = request.client.host if request.client else None
    return resolve(peer, request.headers.get("x-forwarded-for"))


CurrentUser = Annotated[Actor, Depends(BearerAuthentication())]
ClientAddress = Annotated[str, Depends(client_address)]

RegisterUser = Annotated[RegisterUserHandler, Depends(_handler(lambda c: c.register_user()))]
PasswordGrant = Annotated[PasswordGrantHandler, Depends(_handler(lambda c: c.password_grant()))]
RefreshGrant = Annotated[RefreshGrantHandler, Depends(_handler(lambda c: c.refresh_grant()))]
Logout = Annotated[LogoutHandler, Depends(_handler(lambda c: c.logout()))]
RequestPasswordRecovery = Annotated[
    RequestPasswordRecoveryHandler,
    Depends(_handler(lambda c: c.request_password_recovery())),
]
ResetPassword = Annotated[ResetPasswordHandler, Depends(_handler(lambda c: c.reset_password()))]
GetCurrentUser = Annotated[GetCurrentUserHandler, Depends(_handler(lambda c: c.get_current_user()))]
UpdateProfile = Annotated[UpdateProfileHandler, Depends(_handler(lambda c: c.update_profile()))]
ChangePassword = Annotated[ChangePasswordHandler, Depends(_handler(lambda c: c.change_password()))]
DeleteUser = Annotated[DeleteUserHandler, Depends(_handler(lambda c: c.delete_user()))]
GetUser = Annotated[GetUserHandler, Depends(_handler(lambda c: c.get_user()))]
ListUsers = Annotated[ListUsersHandler, Depends(_handler(lambda c: c.list_users()))]
AdministerUser = Annotated[AdministerUserHandler, Depends(_handler(lambda c: c.administer_user()))]
CreateItem = Annotated[CreateItemHandler, Depends(_handler(lambda c: c.create_item()))]
GetItem = Annotated[GetItemHandler, Depends(_handler(lambda c: c.get_item()))]
ListItems = Annotated[ListItemsHandler, Depends(_handler(lambda c: c.list_items()))]
ListItemsByCursor = Annotated[
    ListItemsByCursorHandler, Depends(_handler(lambda c: c.list_items_by_cursor()))
]
UpdateItem = Annotated[UpdateItemHandler, Depends(_handler(lambda c: c.update_item()))]
DeleteItem = Annotated[DeleteItemHandler, Depends(_handler(lambda c: c.delete_item()))]
ExportItems = Annotated[ExportItemsHandler, Depends(_handler(lambda c: c.export_items()))]
UploadAttachment = Annotated[
    UploadAttachmentHandler, Depends(_handler(lambda c: c.upload_attachment()))
]
ListAttachments = Annotated[
    ListAttachmentsHandler, Depends(_handler(lambda c: c.list_attachments()))
]
DownloadAttachment = Annotated[
    DownloadAttachmentHandler, Depends(_handler(lambda c: c.download_attachment()))
]
DeleteAttachment = Annotated[
    DeleteAttachmentHandler, Depends(_handler(lambda c: c.delete_attachment()))
]
