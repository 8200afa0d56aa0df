"""`WS /api/v1/ws`: item events for the items the caller may read, as API.md describes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from application.dto import Actor
from application.errors import ApplicationError, DependencyUnavailable
from application.use_cases.accounts.authenticate import Authenticate, AuthenticateHandler
from entrypoints.realtime import (
    POLICY_VIOLATION,
    TRY_AGAIN_LATER,
    ConnectionHub,
    Subscription,
)

router = APIRouter()
AUTH_TIMEOUT_SECONDS = 10.0


async def _authenticate(websocket: WebSocket, token: str) -> Actor | None:
    """The token's actor, or None when it is refused. DependencyUnavailable passes through:
    an outage is no reason to tell a client its token is bad."""
    authenticate: AuthenticateHandler = websocket.app.state.container.authenticate()
    try:
        return await authenticate(Authenticate(token))
    except DependencyUnavailable:
        raise
    except ApplicationError:
        return None


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _first_message_token(websocket: WebSocket) -> str | None:
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS)
        message = orjson.loads(raw)
    except (TimeoutError, orjson.JSONDecodeError, KeyError, WebSocketDisconnect, RuntimeError):
        return None
    if not isinstance(message, dict) or message.get("type") != "auth":
        return None
    token = message.get("access_token")
    return token if isinstance(token, str) and token else None


def _origin_allowed(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    return origin is None or origin in websocket.app.state.container.settings().cors_origins


@router.websocket("/api/v1/ws")
async def item_events(websocket: WebSocket) -> None:
    """Header auth (or a first `auth` message), then `ready`, then item events."""
    try:
        actor, token = await _handshake(websocket)
    except DependencyUnavailable:
        if websocket.client_state is WebSocketState.CONNECTING:
            await websocket.accept()
        await websocket.close(code=TRY_AGAIN_LATER)
        return
    if actor is None or token is None:
        return
    hub: ConnectionHub = websocket.app.state.hub
    subscription = hub.join(
        actor.user_id, actor.is_superuser, actor.token_id, actor.token_expires_at, actor.session_id
    )
    try:  # joined before `ready`, so no change made after the client sees it is missed
        await websocket.send_text('{"type":"ready"}')
        await _serve(websocket, subscription, token)
    finally:
        hub.leave(subscription)


async def _handshake(websocket: WebSocket) -> tuple[Actor | None, str | None]:
    """The authenticated actor of an accepted socket and its token, or None once the socket
    is refused."""
    token = _bearer(websocket)
    if not _origin_allowed(websocket):
        await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake gets 403
        return None, None
    actor = None if token is None else await _authenticate(websocket, token)
    if token is not None and actor is None:
        await websocket.close(code=POLICY_VIOLATION)
        return None, None
    await websocket.accept()
    if actor is None:
        token = await _first_message_token(websocket)
        actor = None if token is None else await _authenticate(websocket, token)
        if actor is None:
            await websocket.close(code=POLICY_VIOLATION)
    return actor, token


async def _serve(websocket: WebSocket, subscription: Subscription, token: str) -> None:
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
    if subscription.close_code is not None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=subscription.close_code)


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
            if await _authenticate(websocket, token) is None:
                subscription.close(POLICY_VIOLATION)
                return


async def _expire(subscription: Subscription, now: datetime) -> None:
    if subscription.expires_at is None:
        return
    delay = (subscription.expires_at - now).total_seconds()
    await asyncio.sleep(max(0.0, delay))
    subscription.close(POLICY_VIOLATION)
