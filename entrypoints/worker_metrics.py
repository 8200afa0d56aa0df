"""The supervisor's side of several workers' metrics (`portico serve --workers N`): one
directory for every worker's metric files, and the gauges of dead workers forgotten. What the
workers write there, and how a scrape reads it, is entrypoints/metrics.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from entrypoints.metrics import MULTIPROC_DIR_ENV

REAP_SECONDS = 1.0

_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db\Z")


def share_across_workers(workers: int) -> str | None:
    """With more than one worker: a fresh directory for the workers' metric files, named in
    PROMETHEUS_MULTIPROC_DIR for the workers this process starts after it and removed when
    this process exits, and a thread that forgets the gauges of workers that have died.
    Return the directory; None for one worker, which keeps its metrics in memory."""
    if workers <= 1:
        return None
    directory = tempfile.mkdtemp(prefix="portico-metrics-")  # fresh: no counts of a past run
    os.environ[MULTIPROC_DIR_ENV] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    reaper = threading.Thread(
        target=_reap, args=(directory,), name="portico-metrics-reaper", daemon=True
    )
    reaper.start()
    return directory


def forget_dead_workers(directory: str) -> list[int]:
    """Remove the gauge files of every process that wrote some and is no longer running
    (counter and histogram files stay); return those processes' pids."""
    pids = set()
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.match(name)
        if match:
            pids.add(int(match.group(1)))
    dead = sorted(pid for pid in pids if not _running(pid))
    for pid in dead:
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    return dead


def _reap(directory: str) -> None:
    while os.path.isdir(directory):
        with contextlib.suppress(OSError):  # the directory went away at exit, or a file did
            forget_dead_workers(directory)
        time.sleep(REAP_SECONDS)


def _running(pid: int) -> bool:
    """Whether `pid` is a running process: not gone, and not a zombie (dead, not yet reaped
    by uvicorn's supervisor, which looks every half second)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # gone since, or a system without /proc
    except OSError:
        return True
    return stat.rpartition(b")")[2].split()[:1] != [b"Z"]
