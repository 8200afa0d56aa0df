"""The markdown tables read_path.py prints: every load, then each goal per round."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import SERVERS, Measure
from bench.wrk import Load, combined


@dataclass(frozen=True)
class Result:
    round: int
    measure: Measure
    connections: int
    slices: list[Load]
    unavailable: int | None  # lines with "unavailable" in a Portico server's log during it

    @property
    def load(self) -> Load:
        return combined(self.slices)


Round = dict[str, Result]


def _rps(results: Round, a: str, b: str) -> float:
    """Median over the round's slices of a's req/s over b's (slice i of each ran together)."""
    pairs = zip(results[a].slices, results[b].slices, strict=True)
    return statistics.median(x.requests_per_second / y.requests_per_second for x, y in pairs)


def _p99(results: Round, a: str, b: str) -> float:
    """Median over the round's slices of a's p99 over b's."""
    pairs = zip(results[a].slices, results[b].slices, strict=True)
    return statistics.median(x.p99_ms / y.p99_ms for x, y in pairs)


def ratio(results: Round, key: str) -> float | None:
    """Throughput of `key` over that of its baseline in the same round."""
    result = results.get(key)
    if result is None or result.measure.baseline not in results:
        return None
    return _rps(results, key, result.measure.baseline)


def _cell(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def loads_table(rounds: list[Round]) -> str:
    head = (
        "| round | scenario | server | load | conns | req/s | x bare | p50 ms | p99 ms"
        ' | non-2xx | socket errors | timeouts | "unavailable" lines |\n'
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    lines = [head]
    for results in rounds:
        for key, r in results.items():
            load = r.load
            lines.append(
                f"| {r.round} | {r.measure.scenario} | {SERVERS[r.measure.server].label}"
                f" | {r.measure.what} | {r.connections} | {load.requests_per_second:.0f}"
                f" | {_cell(ratio(results, key))} | {load.p50_ms:.2f} | {load.p99_ms:.2f}"
                f" | {load.non_2xx} | {load.socket_errors} | {load.timeouts}"
                f" | {'-' if r.unavailable is None else r.unavailable} |"
            )
    return "\n".join(lines)


def _errors(r: Result) -> int:
    return r.load.non_2xx + r.load.socket_errors + r.load.timeouts


@dataclass(frozen=True)
class Goal:
    text: str
    needs: tuple[str, ...]
    value: Callable[[Round], float]
    met: Callable[[float], bool] | None  # None: a figure to read, not a goal
    shown: Callable[[float, Round], str] = lambda v, _: f"{v:.2f}"


GOALS = (
    Goal("item GET, in-process: >= 0.8x bare", ("memory", "bare"),
         lambda r: _rps(r, "memory", "bare"), lambda v: v >= 0.8),
    Goal("item GET, Redis: >= 0.5x bare", ("redis", "bare"),
         lambda r: _rps(r, "redis", "bare"), lambda v: v >= 0.5),
    Goal("p99 at 64 conns, in-process: <= 3x bare's", ("memory", "bare"),
         lambda r: _p99(r, "memory", "bare"), lambda v: v <= 3),
    Goal("p99 at 64 conns, Redis: <= 3x bare's", ("redis", "bare"),
         lambda r: _p99(r, "redis", "bare"), lambda v: v <= 3),
    Goal("256 conns, Portico: zero non-2xx/socket errors/timeouts", ("redis-many",),
         lambda r: _errors(r["redis-many"]), lambda v: v == 0, lambda v, _: f"{v:.0f}"),
    Goal("256 conns, bare: non-2xx/socket errors/timeouts", ("bare-many",),
         lambda r: _errors(r["bare-many"]), None, lambda v, _: f"{v:.0f}"),
    Goal("256 conns: Portico req/s over its 64-conn req/s", ("redis-many", "redis"),
         lambda r: _rps(r, "redis-many", "redis"), None),
    Goal("256 conns: bare req/s over its 64-conn req/s", ("bare-many", "bare"),
         lambda r: _rps(r, "bare-many", "bare"), None),
    Goal("list with count <= 2x the page alone (v1 time / v2 time)", ("v1", "v2"),
         lambda r: _rps(r, "v2", "v1"), lambda v: v <= 2),
    Goal("bare: page+count(*) time / page time", ("bare-counted", "bare-page"),
         lambda r: _rps(r, "bare-page", "bare-counted"), None),
    Goal("two-worker ratio >= one-worker ratio (Redis)", ("redis-2w", "bare-2w", "redis", "bare"),
         lambda r: _rps(r, "redis-2w", "bare-2w") - _rps(r, "redis", "bare"), lambda v: v >= 0,
         lambda v, r: f"{_rps(r, 'redis-2w', 'bare-2w'):.2f} vs {_rps(r, 'redis', 'bare'):.2f}"),
    Goal("granian / uvicorn, Portico with Redis", ("granian", "redis"),
         lambda r: _rps(r, "granian", "redis"), None),
    Goal("no \"unavailable\" log lines while everything is up", (),
         lambda r: sum(x.unavailable or 0 for x in r.values()), lambda v: v == 0,
         lambda v, _: f"{v:.0f}"),
)  # fmt: skip


def goals_table(rounds: list[Round]) -> str:
    head = "| goal | " + " | ".join(f"round {n + 1}" for n in range(len(rounds))) + " |"
    lines = [head, "|---|" + "--:|" * len(rounds)]
    for goal in GOALS:
        if not all(all(k in results for k in goal.needs) for results in rounds):
            continue
        cells = []
        for results in rounds:
            value = goal.value(results)
            verdict = "" if goal.met is None else (" met" if goal.met(value) else " **MISSED**")
            cells.append(goal.shown(value, results) + verdict)
        lines.append(f"| {goal.text} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_STAMP = re.compile(r"^\S+ \S+ (\w+) (\S+) \[[^]]*\] ")
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def unavailable_summary(logs: dict[str, Path]) -> str:
    """The "unavailable" lines of each log, alike ones counted together (ids blanked)."""
    lines = []
    for name, log in logs.items():
        seen: Counter[str] = Counter()
        for line in log.read_text(errors="replace").splitlines():
            if "unavailable" in line:
                seen[_ID.sub("<id>", _STAMP.sub(r"\1 \2 ", line))[:160]] += 1
        lines += [f"- {name}: {count} x `{text}`" for text, count in seen.most_common(5)]
    return "\n".join(lines) or "- none"
