"""One wrk load (`--latency`) and what it reports: throughput, p50/p99, errors."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

TIMEOUT = "2s"  # wrk's default: a response slower than this counts as a timeout
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Load:
    """What one wrk run measured. Latencies in milliseconds."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write
    timeouts: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(out: str) -> Load:
    """Read wrk's `--latency` report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    done = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and done):
        raise ValueError(f"could not read wrk's report:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    connect, read, write, timeouts = (int(n) for n in errors.groups()) if errors else (0,) * 4
    return Load(
        requests_per_second=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(done.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=connect + read + write,
        timeouts=timeouts,
    )


def wrk(url: str, *, seconds: float, connections: int, token: str | None = None) -> Load:
    """Load `url` with one wrk thread and `connections` keep-alive connections."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found (Debian package wrk)")
    argv = ["wrk", "--latency", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    argv += ["--timeout", TIMEOUT]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"wrk failed on {url}:\n{done.stdout}{done.stderr}")
    return parse(done.stdout)


def combined(slices: Sequence[Load]) -> Load:
    """Equal-length slices of one load as one: mean req/s, median p50 and p99, summed counts."""
    return Load(
        requests_per_second=statistics.mean(s.requests_per_second for s in slices),
        p50_ms=statistics.median(s.p50_ms for s in slices),
        p99_ms=statistics.median(s.p99_ms for s in slices),
        requests=sum(s.requests for s in slices),
        non_2xx=sum(s.non_2xx for s in slices),
        socket_errors=sum(s.socket_errors for s in slices),
        timeouts=sum(s.timeouts for s in slices),
    )
