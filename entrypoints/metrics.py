"""Portico's Prometheus metrics: what is counted, where each reading comes from, and how the
workers of `portico serve --workers N` are counted as one (prometheus-client's multiprocess
mode). The HTTP side (the request middleware, `GET /metrics`) is entrypoints/http/metrics.py.

One process (PROMETHEUS_MULTIPROC_DIR unset): the values live in this process's `Metrics`
registry, and a scrape reads the gauges and cache counts at that moment.

Several workers: `portico serve` names a fresh directory in PROMETHEUS_MULTIPROC_DIR before
uvicorn starts them (entrypoints/worker_metrics.py); each worker writes its values to files of
its own there (named by its pid) and the worker that answers a scrape reads every file:

- counters and histograms are summed over all files, those of dead workers too: a worker
  killed and restarted keeps what it counted, and its successor counts on in a new file (a
  new pid) from zero, so a total never drops and nothing is counted twice;
- gauges are `livesum`, the sum over workers alive: `portico serve` removes a dead worker's
  gauge files within a second (`mark_process_dead`), so its connections leave the sums.
  `livemax` would report the largest worker's value instead: the mode for a figure every
  worker reads alike. Portico's one such figure, `portico_jobs_waiting` (a COUNT of the queue
  that all workers share), is kept out of the files altogether: the worker answering the
  scrape reads it then.

Requests and job outcomes are written as they finish. The gauges and cache counts (read from
the hub, the pool and the cache, which count for free) are written every SAMPLE_SECONDS, and
by the answering worker at the scrape: another worker's are at most that old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 1.0
JOBS_WAITING_TIMEOUT_SECONDS = 1.0
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is counted as `OTHER` (a client chooses the method)."""


@dataclass(frozen=True, slots=True)
class Readings:
    """Where the process's gauges and cache counts are read. Each is cheap and does no I/O,
    except `jobs_waiting` (one COUNT of the queue, at a scrape only)."""

    websockets: Callable[[], int]
    pool: Callable[[], tuple[int, int]]  # connections (in use, idle)
    cache: Callable[[], tuple[int, int]]  # lookups so far (hits, misses)
    jobs_waiting: Callable[[], Awaitable[int]]


def multiprocess_directory() -> str | None:
    """The directory the workers share their metric files in, None for one process. It is
    the library's own variable, read by prometheus-client itself when it is imported."""
    return os.environ.get(MULTIPROC_DIR_ENV) or None


class _JobsWaiting(Collector):
    """`portico_jobs_waiting`, as counted for the scrape being answered (none if unknown)."""

    def __init__(self) -> None:
        self.value: int | None = None

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily("portico_jobs_waiting", "")]

    def collect(self) -> Iterator[Metric]:
        if self.value is not None:
            doc = "Jobs in the queue waiting to run (due now or after a retry delay)."
            yield GaugeMetricFamily("portico_jobs_waiting", doc, value=self.value)


class Metrics:
    """This process's metrics; with `multiprocess_dir`, every worker's (module docstring)."""

    def __init__(self, readings: Readings, multiprocess_dir: str | None = None) -> None:
        self._readings, self._dir = readings, multiprocess_dir
        # No `_created` series beside the counters and histograms (the multiprocess mode writes
        # none either): each would double the series Prometheus keeps for them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        self._requests = Counter(
            "portico_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self._durations = Histogram(
            "portico_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response.",
            ("method", "route"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._websockets = Gauge(
            "portico_websocket_connections",
            "Open WebSocket connections.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        pool = Gauge(
            "portico_db_pool_connections",
            "Database pool connections: in use, or open and idle.",
            ("state",),
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._in_use, self._idle = pool.labels("in_use"), pool.labels("idle")
        cache = Counter(
            "portico_cache_requests",
            "Item cache lookups, by result.",
            ("result",),
            registry=registry,
        )
        self._hits, self._misses = cache.labels("hit"), cache.labels("miss")
        self._cache_seen = (0, 0)
        self._jobs = Counter(
            "portico_jobs",
            "Job attempts finished, by kind and outcome.",
            ("kind", "outcome"),
            registry=registry,
        )
        self._jobs_waiting = _JobsWaiting()
        self._exposed = registry if multiprocess_dir is None else CollectorRegistry()
        if multiprocess_dir is not None:
            MultiProcessCollector(self._exposed, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        self._exposed.register(self._jobs_waiting)
        self._observers: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._counting_failed = False

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request under its route template and time it."""
        key = (method, route, status)
        observers = self._observers.get(key)
        if observers is None:  # label lookups once per series, not once per request
            name = method if method in METHODS else "OTHER"
            observers = (
                self._requests.labels(name, route, str(status)),
                self._durations.labels(name, route),
            )
            self._observers[key] = observers
        observers[0].inc()
        observers[1].observe(seconds)

    def job_finished(self, kind: str, outcome: str) -> None:
        """JobRunner's `on_outcome`: count one finished attempt (done, retried or failed)."""
        self._jobs.labels(kind, outcome).inc()

    def sample(self) -> None:
        """Read the gauges and cache counts into the metrics now."""
        self._websockets.set(self._readings.websockets())
        in_use, idle = self._readings.pool()
        self._in_use.set(in_use)
        self._idle.set(idle)
        hits, misses = self._readings.cache()
        seen_hits, seen_misses = self._cache_seen
        self._hits.inc(max(0, hits - seen_hits))
        self._misses.inc(max(0, misses - seen_misses))
        self._cache_seen = (hits, misses)

    async def render(self) -> bytes:
        """Every metric, read now, in the Prometheus text format 0.0.4. Without a job count
        in time (the database is away) `portico_jobs_waiting` is left out; the rest is not."""
        waiting = await self._count_waiting()
        self.sample()
        self._jobs_waiting.value = waiting
        return generate_latest(self._exposed)

    async def _count_waiting(self) -> int | None:
        try:
            async with asyncio.timeout(JOBS_WAITING_TIMEOUT_SECONDS):
                waiting = await self._readings.jobs_waiting()
        except Exception as exc:  # a scrape reports what it can; the outage is logged once
            if not self._counting_failed:
                log.warning("metrics: cannot count the waiting jobs (%r)", exc)
            self._counting_failed = True
            return None
        self._counting_failed = False
        return waiting

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        """While inside, with several workers: this worker's gauges and cache counts are
        written to its files every SAMPLE_SECONDS. One process needs nothing (a scrape reads
        them itself)."""
        if self._dir is None:
            yield
            return
        task = asyncio.create_task(self._keep_sampling(), name="portico-metrics-sampler")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_sampling(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a reading that fails must not end the sampling
                log.exception("metrics: sampling failed")
            await asyncio.sleep(SAMPLE_SECONDS)
