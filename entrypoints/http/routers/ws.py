"""`WS /api/v1/ws`: item events for the items the caller may read, as docs/http-api.md describes.

A client may leave at any moment, before authenticating too: that ends its socket quietly
(Starlette raises WebSocketDisconnect from a send to a client that is gone; it is caught once,
here). Every close the service initiates after the accept carries a reason (see
`entrypoints.realtime.Close`); a refusal before the accept is the handshake's HTTP 403.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from application.dto import Actor
from application.errors import (
    ApplicationError,
    DependencyUnavailable,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
)
from application.use_cases.accounts.authenticate import Authenticate, AuthenticateHandler
from application.use_cases.accounts.get_current_user import GetCurrentUser, GetCurrentUserHandler
from entrypoints.http.origins import origin_allowed
from entrypoints.realtime import (
    ACCOUNT_CHANGED,
    ACCOUNT_DEACTIVATED,
    ACCOUNT_DELETED,
    AUTH_EXPECTED,
    AUTH_TIMEOUT,
    INVALID_TOKEN,
    LOGGED_OUT,
    POLICY_VIOLATION,
    ROLE_CHANGED,
    TOKEN_EXPIRED,
    UNAVAILABLE,
    Close,
    ConnectionHub,
    Subscription,
)

router = APIRouter()
AUTH_TIMEOUT_SECONDS = 10.0


@router.websocket("/api/v1/ws")
async def item_events(websocket: WebSocket) -> None:
    """Header auth (or a first `auth` message), then `ready`, then item events."""
    try:
        authenticated = await _handshake(websocket)
        if authenticated is not None:
            await _serve(websocket, *authenticated)
    except DependencyUnavailable:  # an outage is no reason to tell a client its token is bad
        await _close(websocket, UNAVAILABLE)
    except WebSocketDisconnect:
        pass  # the client left: nobody to tell, and nothing went wrong


async def _authenticate(websocket: WebSocket, token: str) -> Actor | Close:
    """The token's actor, or why it is refused. DependencyUnavailable passes through."""
    authenticate: AuthenticateHandler = websocket.app.state.container.authenticate()
    try:
        return await authenticate(Authenticate(token))
    except DependencyUnavailable:
        raise
    except TokenExpired:
        return TOKEN_EXPIRED
    except TokenRevoked:
        return LOGGED_OUT
    except ApplicationError:
        return INVALID_TOKEN


def _header_token(websocket: WebSocket) -> str | None:
    """The `Authorization: Bearer` token; None without the header, "" when the header holds
    no bearer token (another scheme, or none), which is refused as a bad token is."""
    header = websocket.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _first_message_token(websocket: WebSocket) -> str | Close:
    """The access token of the first message, or why there is none. Raises
    WebSocketDisconnect when the client leaves instead."""
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS)
        message = orjson.loads(raw)
    except TimeoutError:
        return AUTH_TIMEOUT
    except (orjson.JSONDecodeError, KeyError):  # KeyError: a binary message has no text
        return AUTH_EXPECTED
    if not isinstance(message, dict) or message.get("type") != "auth":
        return AUTH_EXPECTED
    token = message.get("access_token")
    return token if isinstance(token, str) and token else AUTH_EXPECTED


def _origin_allowed(websocket: WebSocket) -> bool:
    return origin_allowed(
        websocket.headers.get("origin"),
        host=websocket.headers.get("host"),
        # `wss` to us, or https to a trusted TLS-terminating proxy (X-Forwarded-Proto)
        secure=websocket.app.state.security_headers.came_over_https(websocket.scope),
        listed=websocket.app.state.container.settings().cors_origins,
    )


async def _handshake(websocket: WebSocket) -> tuple[Actor, str] | None:
    """The actor of an accepted, authenticated socket and its token; None once refused."""
    if not _origin_allowed(websocket):
        await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake gets 403
        return None
    token = _header_token(websocket)
    if token is None:
        await websocket.accept()
        return await _authenticated_by_message(websocket)
    actor = await _authenticate(websocket, token) if token else INVALID_TOKEN
    if isinstance(actor, Close):
        await websocket.close(code=actor.code)  # before accept: 403
        return None
    await websocket.accept()
    return actor, token


async def _authenticated_by_message(websocket: WebSocket) -> tuple[Actor, str] | None:
    """The actor of the token the first message carries, and the token; None once the socket
    is closed saying why there is none."""
    token = await _first_message_token(websocket)
    if isinstance(token, Close):
        await _close(websocket, token)
        return None
    actor = await _authenticate(websocket, token)
    if isinstance(actor, Close):
        await _close(websocket, actor)
        return None
    return actor, token


async def _close(websocket: WebSocket, why: Close) -> None:
    """Close saying `why` (accepting first, so that the reason is heard); quiet when the
    client is gone already."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        if websocket.application_state is WebSocketState.CONNECTING:
            await websocket.accept()
        await websocket.close(code=why.code, reason=why.reason)


async def _serve(websocket: WebSocket, actor: Actor, token: str) -> None:
    hub: ConnectionHub = websocket.app.state.hub
    subscription = hub.join(
        actor.user_id, actor.is_superuser, actor.token_id, actor.token_expires_at, actor.session_id
    )
    try:  # joined before `ready`, so no change made after the client sees it is missed
        await websocket.send_text('{"type":"ready"}')
        await _until_closed(websocket, subscription, token)
    finally:
        hub.leave(subscription)
    if subscription.closed_by is not None:
        await _close(websocket, await _explained(websocket, actor, subscription.closed_by))


async def _until_closed(websocket: WebSocket, subscription: Subscription, token: str) -> None:
    tasks = [
        asyncio.create_task(_send(websocket, subscription)),
        asyncio.create_task(_drain(websocket, subscription)),
        asyncio.create_task(_expire(subscription, websocket.app.state.container.clock().now())),
        asyncio.create_task(_recheck(websocket, subscription, token)),
    ]
    try:
        await subscription.closed.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _explained(websocket: WebSocket, actor: Actor, why: Close) -> Close:
    """`why`, made precise from the account as it is now where an event only said that access
    changed: deactivating an account revokes its tokens too, and a role change names no role.
    An outage leaves `why` as it is."""
    if why not in (LOGGED_OUT, ACCOUNT_CHANGED):
        return why
    get_user: GetCurrentUserHandler = websocket.app.state.container.get_current_user()
    try:
        user = await get_user(GetCurrentUser(actor))
    except InvalidToken:
        return ACCOUNT_DELETED
    except ApplicationError:
        return why
    if not user.is_active:
        return ACCOUNT_DEACTIVATED
    return ROLE_CHANGED if user.is_superuser != actor.is_superuser else why


async def _send(websocket: WebSocket, subscription: Subscription) -> None:
    try:
        while True:
            await websocket.send_text((await subscription.queue.get()).decode())
    except (WebSocketDisconnect, RuntimeError):
        subscription.closed.set()


async def _drain(websocket: WebSocket, subscription: Subscription) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    subscription.closed.set()


async def _recheck(websocket: WebSocket, subscription: Subscription, token: str) -> None:
    """Close the socket (1008) once its token is refused: revoked, or its user inactive. An
    outage proves nothing either way: the socket stays and the next check decides."""
    hub: ConnectionHub = websocket.app.state.hub
    while True:
        await hub.recheck_due()
        with contextlib.suppress(DependencyUnavailable):
            outcome = await _authenticate(websocket, token)
            if isinstance(outcome, Close):
                # A token that was good is refused as invalid only for its account's sake.
                subscription.close(ACCOUNT_CHANGED if outcome is INVALID_TOKEN else outcome)
                return


async def _expire(subscription: Subscription, now: datetime) -> None:
    if subscription.expires_at is None:
        return
    delay = (subscription.expires_at - now).total_seconds()
    await asyncio.sleep(max(0.0, delay))
    subscription.close(TOKEN_EXPIRED)
