"""The caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, Response

from application.use_cases.accounts.get_current_user import GetCurrentUser
from entrypoints.http import deps
from entrypoints.http.deps import CurrentUser
from entrypoints.http.openapi import problems
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas import UserOut

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get(
    "/me",
    response_model=None,
    response_class=JSONBody,
    responses={200: {"model": UserOut}, **problems(401)},
)
async def read_me(actor: CurrentUser, handler: deps.GetCurrentUser) -> Response:
    """The caller's account."""
    return JSONBody(await handler(GetCurrentUser(actor)))
