"""Accounts: the caller's own (`/me`), and every account for superusers."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response

from application.paging import MAX_PAGE
from application.use_cases.accounts.change_password import ChangePassword
from application.use_cases.accounts.get_current_user import GetCurrentUser
from application.use_cases.users.administer_user import AdministerUser
from application.use_cases.users.delete_user import DeleteUser
from application.use_cases.users.get_user import GetUser
from application.use_cases.users.list_users import ListUsers
from application.use_cases.users.update_profile import UpdateProfile
from entrypoints.http import deps
from entrypoints.http.deps import CurrentUser
from entrypoints.http.openapi import Responses, header, problems
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas import PasswordChangeIn, ProfilePatch, UserAdminPatch, UserOut

MAX_SKIP = 10_000_000

UserId = Annotated[UUID, Path(description="The account's id (a malformed one is a 422).")]
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP, description="How many accounts to pass over.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (1 to 100).")]

_JSON: dict[str, Any] = {"response_model": None, "response_class": JSONBody}
_USER: Responses = {200: {"model": UserOut}}

router = APIRouter(prefix="/api/v1/users", tags=["users"])

# --- the caller's own account (before `/{user_id}`, which would otherwise match `me`) ---------


@router.get("/me", responses={**_USER, **problems(401)}, **_JSON)
async def read_me(actor: CurrentUser, handler: deps.GetCurrentUser) -> Response:
    """The caller's account."""
    return JSONBody(await handler(GetCurrentUser(actor)))


@router.patch("/me", responses={**_USER, **problems(401, 409, 422)}, **_JSON)
async def update_me(
    body: ProfilePatch, actor: CurrentUser, handler: deps.UpdateProfile
) -> Response:
    """Change the caller's full name and/or email (free in any case, else 409)."""
    return JSONBody(await handler(UpdateProfile(actor, **body.changes())))


@router.post("/me/password", status_code=204, responses=problems(400, 401, 422, 429, 503))
async def change_my_password(
    body: PasswordChangeIn, actor: CurrentUser, handler: deps.ChangePassword
) -> Response:
    """Change the caller's password (400 if the current one is wrong). Every other session of
    the user ends; this one goes on."""
    await handler(ChangePassword(actor, body.current_password, body.new_password))
    return Response(status_code=204)


@router.delete("/me", status_code=204, responses=problems(401))
async def delete_me(actor: CurrentUser, handler: deps.DeleteUser) -> Response:
    """Delete the caller's account with its items and attachments; its tokens stop working."""
    await handler(DeleteUser(actor))
    return Response(status_code=204)


# --- every account (superusers) ---------------------------------------------------------


@router.get(
    "",
    responses={
        200: {
            "model": list[UserOut],
            "headers": {"X-Total-Count": header("How many accounts exist.", "integer")},
        },
        **problems(401, 403, 422),
    },
    **_JSON,
)
async def list_users(
    actor: CurrentUser, handler: deps.ListUsers, skip: Skip = 0, limit: Limit = 50
) -> Response:
    """Every account, oldest first (superusers only)."""
    page = await handler(ListUsers(actor, skip, limit))
    return JSONBody(page.items, headers={"X-Total-Count": str(page.total)})


@router.get("/{user_id}", responses={**_USER, **problems(401, 404, 422)}, **_JSON)
async def read_user(user_id: UserId, actor: CurrentUser, handler: deps.GetUser) -> Response:
    """One account: the caller's own, or any for a superuser (anyone else's is a 404)."""
    return JSONBody(await handler(GetUser(actor, user_id)))


@router.patch("/{user_id}", responses={**_USER, **problems(401, 403, 404, 422)}, **_JSON)
async def administer_user(
    user_id: UserId, body: UserAdminPatch, actor: CurrentUser, handler: deps.AdministerUser
) -> Response:
    """Rename, (de)activate or (un)promote an account (superusers only). Deactivation ends
    every session of the account at once."""
    return JSONBody(await handler(AdministerUser(actor, user_id, **body.changes())))


@router.delete("/{user_id}", status_code=204, responses=problems(401, 403, 404, 422))
async def delete_user(user_id: UserId, actor: CurrentUser, handler: deps.DeleteUser) -> Response:
    """Delete an account with its items and attachments (superusers only)."""
    await handler(DeleteUser(actor, user_id))
    return Response(status_code=204)
