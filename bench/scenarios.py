"""What read_path.py measures: the servers it starts and the loads it puts on them.

Every Portico server is `portico serve` (uvicorn, uvloop, httptools, the project's log
configuration) in production settings, except the granian one, which serves the same ASGI
factory. Every baseline is `bench/bare_app.py` on uvicorn with the same loop and parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT, uvicorn_argv

SCENARIOS = ("item", "c256", "lists", "workers", "granian")


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server. `portico` servers get the Portico environment."""

    name: str
    label: str
    portico: bool
    redis: bool = False
    workers: int = 1
    granian: bool = False

    def argv(self, python: str, port: int) -> list[str]:
        if self.granian:
            argv = [python, "-m", "granian", "--interface", "asgi", "--factory", "--http", "1"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop"]
            argv += ["--workers", str(self.workers), "--log-level", "warning"]
            return [*argv, "entrypoints.http.asgi:create"]
        if self.portico:
            serve = ["-m", "entrypoints.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            return [python, *serve, "--workers", str(self.workers)]
        return uvicorn_argv(python, "bare_app:app", port, workers=self.workers)

    def cwd(self, portico_root: Path) -> Path:
        return portico_root if self.portico else ROOT / "bench"

    @property
    def ready_path(self) -> str:
        return "/health/live" if self.portico else "/items/00000000-0000-0000-0000-000000000000"


SERVERS = {
    spec.name: spec
    for spec in (
        ServerSpec("bare", "bare Starlette + asyncpg", portico=False),
        ServerSpec("bare-2w", "bare Starlette + asyncpg, 2 workers", portico=False, workers=2),
        ServerSpec("portico-memory", "Portico, in-process adapters", portico=True),
        ServerSpec("portico-redis", "Portico, REDIS_URL", portico=True, redis=True),
        ServerSpec("portico-2w", "Portico, REDIS_URL, 2 workers", True, redis=True, workers=2),
        ServerSpec("granian", "Portico, REDIS_URL, on granian", True, redis=True, granian=True),
    )
}


@dataclass(frozen=True)
class Measure:
    """One wrk load. `path` may name {item_id} and {owner}; `baseline` is another key."""

    key: str
    scenario: str
    server: str
    what: str
    path: str
    many: bool = False  # the many-connections load, for the long duration
    baseline: str | None = None
    lists_account: bool = False

    @property
    def needs_token(self) -> bool:
        return SERVERS[self.server].portico


ITEM = "/api/v1/items/{item_id}"
BARE_ITEM = "/items/{item_id}"
MEASURES = (
    Measure("bare", "item", "bare", "GET one row by key", BARE_ITEM),
    Measure("memory", "item", "portico-memory", "GET /api/v1/items/{id}", ITEM, baseline="bare"),
    Measure("redis", "item", "portico-redis", "GET /api/v1/items/{id}", ITEM, baseline="bare"),
    Measure("granian", "granian", "granian", "GET /api/v1/items/{id}", ITEM, baseline="bare"),
    Measure("bare-many", "c256", "bare", "GET one row by key", BARE_ITEM, many=True),
    Measure(
        "redis-many", "c256", "portico-redis", "GET /api/v1/items/{id}", ITEM,
        many=True, baseline="bare-many",
    ),
    Measure("bare-page", "lists", "bare", "page of 50 by id", "/owners/{owner}/items?limit=50"),
    Measure(
        "v2", "lists", "portico-redis", "GET /api/v2/items?limit=50", "/api/v2/items?limit=50",
        baseline="bare-page", lists_account=True,
    ),
    Measure(
        "bare-counted", "lists", "bare", "page of 50 oldest first + count(*)",
        "/owners/{owner}/items-counted?limit=50",
    ),
    Measure(
        "v1", "lists", "portico-redis", "GET /api/v1/items?limit=50 (X-Total-Count)",
        "/api/v1/items?limit=50", baseline="bare-counted", lists_account=True,
    ),
    Measure("bare-2w", "workers", "bare-2w", "GET one row by key", BARE_ITEM),
    Measure(
        "redis-2w", "workers", "portico-2w", "GET /api/v1/items/{id}", ITEM, baseline="bare-2w"
    ),
)  # fmt: skip

# Loads other scenarios are compared with, measured whenever those scenarios are chosen.
_REFERENCES = {"c256": {"bare", "redis"}, "workers": {"bare", "redis"}, "granian": {"redis"}}


def chosen(scenarios: set[str]) -> list[Measure]:
    """The loads to run for `scenarios`, in run order, with the ones they are compared with."""
    keys = {m.key for m in MEASURES if m.scenario in scenarios}
    for scenario in scenarios:
        keys |= _REFERENCES.get(scenario, set())
    keys |= {m.baseline for m in MEASURES if m.key in keys and m.baseline}
    return [m for m in MEASURES if m.key in keys]
