"""Running the loads of one round, interleaved in slices so that noise hits every load alike.

A round runs every load `slices` times for 1/slices of its length: slice 1 of every load,
then slice 2 of every load, and so on, each load right after the baseline it is compared
with. A ratio is then the median of the per-slice ratios: a burst of background work spoils
one slice of each side, not a whole side.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bench.report import Result, Round
from bench.scenarios import Measure
from bench.servers import Running
from bench.wrk import Load, wrk


@dataclass(frozen=True)
class Target:
    """One load, ready to run: what, where, as whom, how hard and for how long a slice."""

    measure: Measure
    server: Running
    path: str
    token: str | None
    connections: int
    slice_seconds: int

    @property
    def url(self) -> str:
        return self.server.base + self.path

    def check(self, expected_total: int) -> str:
        """One request first: a load of errors measures nothing."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = httpx.get(self.url, headers=headers, timeout=30)
        if answer.status_code != 200:
            raise SystemExit(f"{self.url} answered {answer.status_code}: {answer.text[:500]}")
        total = answer.headers.get("x-total-count")
        if total is not None and int(total) != expected_total:
            raise SystemExit(f"{self.url}: X-Total-Count is {total}, expected {expected_total}")
        return f"{self.measure.key}: 200" + (f", X-Total-Count {total}" if total else "")

    def load(self, seconds: int) -> Load:
        return wrk(self.url, seconds=seconds, connections=self.connections, token=self.token)


def run_round(number: int, targets: list[Target], slices: int, warmup: int) -> Round:
    """Every target's load once, in `slices` interleaved slices (the first after a warm-up)."""
    loads: dict[str, list[Load]] = {t.measure.key: [] for t in targets}
    unavailable = dict.fromkeys(loads, 0)
    for index in range(slices):
        for target in targets:
            offset = target.server.log_offset()
            if index == 0 and warmup:
                target.load(warmup)
            loads[target.measure.key].append(target.load(target.slice_seconds))
            unavailable[target.measure.key] += target.server.lines_since(offset, "unavailable")
    results = {}
    for target in targets:
        key = target.measure.key
        result = Result(
            number,
            target.measure,
            target.connections,
            loads[key],
            unavailable[key] if target.measure.needs_token else None,
        )
        load = result.load
        print(
            f"  {key:13s} {target.connections:4d} conns {load.requests_per_second:9.1f} req/s"
            f"  p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:8.2f} ms",
            flush=True,
        )
        results[key] = result
    return results
