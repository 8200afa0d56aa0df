"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response

from entrypoints.container import readiness_checks
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas import Health

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "/live", response_model=None, response_class=JSONBody, responses={200: {"model": Health}}
)
async def live() -> Response:
    """200 while the process serves requests."""
    return JSONBody({"status": "ok"}, headers=_NO_STORE)


@router.get(
    "/ready",
    response_model=None,
    response_class=JSONBody,
    responses={200: {"model": Health}, 503: {"model": Health, "description": "A check failed."}},
)
async def ready(request: Request) -> Response:
    """200 when every dependency answers; 503 naming the ones that do not."""
    probes = readiness_checks(request.app.state.container)
    results = await asyncio.gather(*(_probe(name, check) for name, check in probes.items()))
    checks = dict(zip(probes, results, strict=True))
    healthy = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONBody(body, 200 if healthy else 503, _NO_STORE)


async def _probe(name: str, check: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure, including a timeout, means "not ready"
        log.warning("readiness check %s failed: %r", name, exc)
        return "unavailable"
    return "ok"
