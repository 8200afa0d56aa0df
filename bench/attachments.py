"""Attachment uploads and downloads in the production shape, against `cp` on the same disk.

    uv run --frozen python bench/attachments.py            # 200 MiB file, 16 x 10 MiB, twice
    uv run --frozen python bench/attachments.py --quick    # smoke run: 16 MiB, 16 x 1 MiB, once

Starts a throwaway PostgreSQL 15 and redis-server (or uses --database-url/--redis-url) and
one `portico serve` (production settings, REDIS_URL, STORAGE_DIR beside the baseline files,
MAX_UPLOAD_BYTES raised to fit the big file), then, every round:

1. one big file uploaded (a hand-built multipart body streamed from a file reader) and
   downloaded (`client.stream`, written to a new file and fsynced), each against `cp` of the
   same file to a new file on the same disk followed by `sync` of that file and its
   directory (the server fsyncs its file and directory too); for both transfers the peak
   growth of the server's RSS (VmHWM reset through clear_refs, and VmRSS sampled every 50 ms);
2. bursts of concurrent uploads while a probe in another process runs an authenticated
   `GET /api/v1/items/{id}` back to back: its p50/p99 in idle windows against during the
   bursts (the windows alternate).

Prints markdown tables: every transfer, the probe's windows, then the goals. Every server it
started is stopped however it ends. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from argparse import Namespace
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seed
from bench.servers import ROOT, free_port, serve
from bench.stores import throwaway_postgres, throwaway_redis

MIB = 1024 * 1024
MB = 1000 * 1000
CLIENT_CHUNK = MIB  # what the client reads from its file per body chunk
SAMPLE_SECONDS = 0.05  # VmRSS sampling interval
ATTACHMENTS = "/api/v1/items/{item_id}/attachments"
TIMEOUT = httpx.Timeout(600.0)  # a 200 MiB body and its fsync on a busy disk

GOAL_THROUGHPUT = 0.5  # x cp
GOAL_RSS_MB = 30.0
GOAL_P99 = 5.0  # x idle p99

# Set by the bench itself, or (PYTHONDONTWRITEBYTECODE) slowing every start: as read_path.py.
_DROPPED = (
    "DATABASE_URL", "REDIS_URL", "PYTHONPATH", "SECRET_KEY", "ENVIRONMENT", "STORAGE_DIR",
    "MAX_UPLOAD_BYTES", "PYTHONDONTWRITEBYTECODE",
)  # fmt: skip


def _options() -> Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://)")
    p.add_argument("--redis-url", help="a Redis server to use instead of a throwaway one")
    p.add_argument("--portico-root", type=Path, default=ROOT, help="the checkout to serve")
    p.add_argument("--rounds", type=int, default=2, help="times to run everything")
    p.add_argument("--size-mib", type=int, default=200, help="the big file")
    p.add_argument("--uploads", type=int, default=16, help="concurrent uploads in a burst")
    p.add_argument("--upload-mib", type=int, default=10, help="each concurrent upload")
    p.add_argument("--bursts", type=int, default=3, help="bursts (and idle windows) a round")
    p.add_argument("--idle-seconds", type=float, default=3.0, help="each idle probe window")
    p.add_argument("--work-dir", type=Path, help="the disk for the files and STORAGE_DIR")
    p.add_argument("--log-dir", type=Path, help="where the server log goes (default: temp dir)")
    p.add_argument("--quick", action="store_true", help="1 round: 16 MiB, 16 x 1 MiB, 1 burst")
    if "--quick" in sys.argv:  # new defaults: options given beside it still win
        p.set_defaults(rounds=1, size_mib=16, upload_mib=1, bursts=1, idle_seconds=1.0)
    args = p.parse_args()
    if min(args.rounds, args.size_mib, args.uploads, args.upload_mib, args.bursts) < 1:
        p.error("--rounds, --size-mib, --uploads, --upload-mib and --bursts must be at least 1")
    return args


# The server process ------------------------------------------------------------------------


def _python(root: Path) -> str:
    python = root.resolve() / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: run `uv sync --frozen` in {root}")
    return str(python)


def _server_pid(port: int) -> int:
    """The pid of the `portico serve` on `port` that this process started (a direct child:
    one worker, so the process that serves)."""
    me, wanted = os.getpid(), str(port).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if ppid == me and b"serve" in argv and wanted in argv:
                return int(entry.name)
    raise SystemExit(f"no child process serving port {port} found in /proc")


def _status_bytes(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"/proc/{pid}/status has no {field}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Memory:
    """The server's RSS before a transfer and its peaks during it, in bytes."""

    before: int
    hwm: int | None  # VmHWM after a reset at the start; None if it could not be reset
    sampled: int  # the largest VmRSS seen every SAMPLE_SECONDS
    cpu_seconds: float

    @property
    def growth_hwm(self) -> int | None:
        return None if self.hwm is None else self.hwm - self.before

    @property
    def growth_sampled(self) -> int:
        return self.sampled - self.before

    @property
    def growth(self) -> int:
        """The larger of the two measures of the peak growth."""
        return max(self.growth_sampled, self.growth_hwm or 0)


class Watch:
    """`with Watch(pid) as w:` measures the server's memory and CPU over the block
    (`w.memory` afterwards)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.memory: Memory | None = None

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._peak = max(self._peak, _status_bytes(self._pid, "VmRSS"))

    def __enter__(self) -> Watch:
        self._reset = _reset_peak(self._pid)
        self._before = _status_bytes(self._pid, "VmRSS")
        self._peak = self._before
        self._cpu = _cpu_seconds(self._pid)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        peak = max(self._peak, _status_bytes(self._pid, "VmRSS"))
        hwm = _status_bytes(self._pid, "VmHWM") if self._reset else None
        cpu = _cpu_seconds(self._pid) - self._cpu
        self.memory = Memory(self._before, hwm, peak, cpu)


def _env(db: str, redis: str, storage: Path, max_upload: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    return env | {
        "DATABASE_URL": db,
        "REDIS_URL": redis,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ACCESS_TOKEN_TTL_SECONDS": "86400",  # one token lasts the whole run
        "STORAGE_DIR": str(storage),
        "MAX_UPLOAD_BYTES": str(max_upload),
    }


# Files and the cp baseline -----------------------------------------------------------------


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path`, durably; return their sha256 (hex)."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for offset in range(0, size, CLIENT_CHUNK):
            data = os.urandom(min(CLIENT_CHUNK, size - offset))
            digest.update(data)
            f.write(data)
        f.flush()
        os.fsync(f.fileno())
    _fsync_directory(path.parent)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CLIENT_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cp_seconds(source: Path, target: Path) -> float:
    """Seconds for `cp source target` and `sync` of the new file and its directory (the
    server fsyncs its file and its directory); the copy is removed afterwards."""
    start = time.perf_counter()
    subprocess.run(["cp", "--", str(source), str(target)], check=True)
    subprocess.run(["sync", "--", str(target), str(target.parent)], check=True)
    seconds = time.perf_counter() - start
    target.unlink()
    return seconds


def _stored_file(storage: Path, attachment_id: str) -> Path:
    """The file under STORAGE_DIR holding the attachment's bytes (its name holds the id)."""
    found = [p for p in storage.rglob(f"*{attachment_id}*") if p.is_file()]
    if len(found) != 1:
        raise SystemExit(f"expected one stored file for {attachment_id} under {storage}: {found}")
    return found[0]


# HTTP: uploads and downloads ---------------------------------------------------------------


@dataclass(frozen=True)
class Multipart:
    """A `multipart/form-data` body with one `file` part whose bytes are read from `path` as
    the request is sent: the framing is written by hand around a file reader."""

    path: Path
    size: int
    boundary: str

    @classmethod
    def of(cls, path: Path) -> Multipart:
        return cls(path, path.stat().st_size, "portico-bench-" + secrets.token_hex(16))

    @property
    def head(self) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{self.path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

    @property
    def tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def headers(self) -> dict[str, str]:
        """Content-Type and Content-Length: httpx sends the generator unchunked."""
        length = len(self.head) + self.size + len(self.tail)
        content_type = f"multipart/form-data; boundary={self.boundary}"
        return {"Content-Type": content_type, "Content-Length": str(length)}

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as f:
            while chunk := f.read(CLIENT_CHUNK):
                yield chunk
        yield self.tail

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():  # page-cached reads of 1 MiB: short enough for the loop
            yield chunk


def _described(response: httpx.Response) -> str:
    body = response.content[:2000].decode(errors="replace")
    return (
        f"{response.request.method} {response.request.url}"
        f" (request headers {dict(response.request.headers)})\n"
        f"  -> {response.status_code} {response.reason_phrase}, headers {dict(response.headers)}\n"
        f"  body: {body}"
    )


def _refused(what: str, response: httpx.Response) -> SystemExit:
    return SystemExit(f"{what} failed:\n  {_described(response)}")


def _broken(what: str, method: str, url: str, exc: Exception) -> SystemExit:
    return SystemExit(f"{what} failed: {method} {url} raised {type(exc).__name__}: {exc}")


def _new_item(client: httpx.Client, title: str) -> str:
    answer = client.post("/api/v1/items", json={"title": title})
    if answer.status_code != 201:
        raise _refused("creating an item", answer)
    return str(answer.json()["id"])


def _upload(client: httpx.Client, item_id: str, path: Path) -> tuple[float, dict[str, Any]]:
    """Seconds for one streamed upload of `path` to the item, and the 201's body. Raises
    SystemExit describing the request and the answer when it is anything else."""
    body, url = Multipart.of(path), ATTACHMENTS.format(item_id=item_id)
    start = time.perf_counter()
    try:
        answer = client.post(url, content=body.chunks(), headers=body.headers)
    except httpx.HTTPError as exc:
        raise _broken(f"uploading {body.size} bytes", "POST", url, exc) from exc
    seconds = time.perf_counter() - start
    if answer.status_code != 201:
        raise _refused(f"uploading {body.size} bytes", answer)
    return seconds, answer.json()


def _download(client: httpx.Client, url: str, target: Path) -> tuple[float, int]:
    """Seconds for one streamed download of `url` into the new file `target`, fsynced with
    its directory; and the bytes written. Raises SystemExit unless it is a 200."""
    start = time.perf_counter()
    written = 0
    try:
        with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                answer.read()
                raise _refused("downloading", answer)
            with target.open("wb") as f:
                for chunk in answer.iter_raw():
                    written += len(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
    except httpx.HTTPError as exc:
        raise _broken("downloading", "GET", url, exc) from exc
    _fsync_directory(target.parent)
    return time.perf_counter() - start, written


def _check(client: httpx.Client, files: Files, storage: Path) -> None:
    """Warm the server up and check the routes: an upload (201, its size and hash), the
    download of it (200, the same bytes) and one range of it (206, Content-Range)."""
    item = _new_item(client, "bench warm-up")
    seconds, body = _upload(client, item, files.small)
    if (body.get("size"), body.get("sha256")) != (files.small_size, files.small_sha256):
        raise SystemExit(f"the upload answered {body}: not the size and sha256 sent")
    print(f"  checked POST {ATTACHMENTS} ({files.small_size} bytes): 201 in {seconds:.3f} s")
    url = f"{ATTACHMENTS.format(item_id=item)}/{body['id']}"
    answer = client.get(url)
    if answer.status_code != 200 or answer.content != files.small.read_bytes():
        raise _refused("downloading the warm-up upload (expecting its bytes back)", answer)
    ranged = client.get(url, headers={"Range": "bytes=10-19"})
    content_range = f"bytes 10-19/{files.small_size}"
    expected = files.small.read_bytes()[10:20]
    if ranged.status_code != 206 or ranged.headers.get("content-range") != content_range:
        raise _refused(f"a ranged download (expecting 206, {content_range})", ranged)
    if ranged.content != expected:
        raise SystemExit(f"GET {url} with Range bytes=10-19 answered other bytes")
    stored = _stored_file(storage, str(body["id"]))
    print(f"  checked GET …/attachments/{{id}}: 200 with the bytes, Range → 206; stored {stored}")


# The probe (another process) and the bursts ------------------------------------------------

Sample = tuple[float, float, int]  # monotonic start, seconds, status (0: transport error)


def _probe(base: str, path: str, token: str, stop: Event, conn: Connection) -> None:
    """Run GET `path` back to back until `stop`; then send every Sample through `conn`.
    Sends "ready" after the first answer. time.monotonic is system-wide on Linux, so the
    parent can place the samples in its windows."""
    samples: list[Sample] = []
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        while not stop.is_set():
            start = time.monotonic()
            try:
                status = client.get(path).status_code
            except httpx.HTTPError:
                status = 0
            samples.append((start, time.monotonic() - start, status))
            if len(samples) == 1:
                conn.send("ready")
    conn.send(samples)
    conn.close()


class Probe:
    """The probe process, from `with` to its end; `samples` afterwards."""

    def __init__(self, base: str, path: str, token: str) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of this process's state
        self._stop = context.Event()
        self._conn, child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_probe, args=(base, path, token, self._stop, child), daemon=True
        )
        self._child = child
        self.samples: list[Sample] = []

    def __enter__(self) -> Probe:
        self._process.start()
        self._child.close()
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            self._process.kill()
            raise SystemExit("the probe process did not get a first answer within 60 s")
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: TracebackType | None) -> None:
        self._stop.set()
        if kind is None and self._conn.poll(60):
            self.samples = self._conn.recv()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


@dataclass(frozen=True)
class Burst:
    """Concurrent uploads: their window (monotonic), and each one's status or error."""

    start: float
    stop: float
    outcomes: list[str]  # "201", another status, or an exception's name
    bytes_sent: int

    @property
    def failures(self) -> list[str]:
        return [o for o in self.outcomes if o != "201"]


async def _burst(base: str, token: str, items: list[str], files: Files) -> Burst:
    """One upload of the small file to each item, all at once."""
    limits = httpx.Limits(max_connections=len(items), max_keepalive_connections=len(items))
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=auth, timeout=TIMEOUT, limits=limits
    ) as client:

        async def one(item_id: str) -> str:
            body = Multipart.of(files.small)
            url = ATTACHMENTS.format(item_id=item_id)
            try:
                answer = await client.post(url, content=body.achunks(), headers=body.headers)
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return str(answer.status_code)

        start = time.monotonic()
        outcomes = await asyncio.gather(*(one(item) for item in items))
        stop = time.monotonic()
    return Burst(start, stop, list(outcomes), len(items) * files.small_size)


# Rounds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Files:
    big: Path
    big_size: int
    big_sha256: str
    small: Path
    small_size: int
    small_sha256: str


@dataclass(frozen=True)
class Transfer:
    round: int
    kind: str  # "upload" or "download"
    size: int
    cp_seconds: float
    seconds: float
    memory: Memory

    @property
    def cp_mibps(self) -> float:
        return self.size / MIB / self.cp_seconds

    @property
    def mibps(self) -> float:
        return self.size / MIB / self.seconds

    @property
    def ratio(self) -> float:
        return self.mibps / self.cp_mibps


@dataclass(frozen=True)
class Latencies:
    count: int
    errors: int  # non-2xx answers and transport errors
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: list[Sample]) -> Latencies:
        if not samples:
            raise SystemExit("the probe has no sample in a window: make the windows longer")
        seconds = sorted(s[1] for s in samples)
        errors = sum(not 200 <= s[2] < 300 for s in samples)
        return cls(len(seconds), errors, _rank(seconds, 0.5), _rank(seconds, 0.99), seconds[-1])


def _rank(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class RoundResult:
    number: int
    transfers: list[Transfer]
    idle: Latencies
    busy: Latencies
    bursts: list[Burst]

    def transfer(self, kind: str) -> Transfer:
        return next(t for t in self.transfers if t.kind == kind)


@dataclass(frozen=True)
class Bench:
    args: Namespace
    base: str
    pid: int
    token: str
    probe_item: str
    files: Files
    storage: Path
    scratch: Path  # where the copies and downloads go: the disk of STORAGE_DIR


def _paired(cp_first: bool, cp: Callable[[], float], http: Callable[[], Any]) -> tuple[float, Any]:
    """Run the baseline and the measured transfer in the order asked, a short pause before
    each (writeback of the previous one's unlink settles)."""
    if cp_first:
        time.sleep(0.5)
        baseline = cp()
        time.sleep(0.5)
        return baseline, http()
    time.sleep(0.5)
    measured = http()
    time.sleep(0.5)
    return cp(), measured


def _transfers(bench: Bench, n: int) -> list[Transfer]:
    files, scratch, pid = bench.files, bench.scratch, bench.pid
    cp_first = n % 2 == 1  # alternate which side goes first, round by round
    auth = {"Authorization": f"Bearer {bench.token}"}
    with httpx.Client(base_url=bench.base, headers=auth, timeout=TIMEOUT) as client:
        item = _new_item(client, f"bench round {n}")

        def upload() -> tuple[float, dict[str, Any], Memory]:
            with Watch(pid) as watch:
                seconds, body = _upload(client, item, files.big)
            assert watch.memory is not None
            return seconds, body, watch.memory

        cp_up, (up_seconds, body, up_memory) = _paired(
            cp_first, lambda: _cp_seconds(files.big, scratch / "cp-upload.bin"), upload
        )
        if (body.get("size"), body.get("sha256")) != (files.big_size, files.big_sha256):
            raise SystemExit(f"the big upload answered {body}: not the size and sha256 sent")
        stored = _stored_file(bench.storage, str(body["id"]))
        url = f"{ATTACHMENTS.format(item_id=item)}/{body['id']}"
        target = scratch / "download.bin"

        def download() -> tuple[float, int, Memory]:
            with Watch(pid) as watch:
                seconds, written = _download(client, url, target)
            assert watch.memory is not None
            return seconds, written, watch.memory

        cp_down, (down_seconds, written, down_memory) = _paired(
            cp_first, lambda: _cp_seconds(stored, scratch / "cp-download.bin"), download
        )
        if written != files.big_size or _sha256(target) != files.big_sha256:
            raise SystemExit(f"GET {url} gave {written} bytes, not the {files.big_size} uploaded")
        target.unlink()
    return [
        Transfer(n, "upload", files.big_size, cp_up, up_seconds, up_memory),
        Transfer(n, "download", files.big_size, cp_down, down_seconds, down_memory),
    ]


def _concurrency(bench: Bench, n: int) -> tuple[Latencies, Latencies, list[Burst]]:
    args, files = bench.args, bench.files
    path = f"/api/v1/items/{bench.probe_item}"
    auth = {"Authorization": f"Bearer {bench.token}"}
    idle_windows, bursts = [], []
    with (
        httpx.Client(base_url=bench.base, headers=auth, timeout=TIMEOUT) as client,
        Probe(bench.base, path, bench.token) as probe,
    ):
        for b in range(args.bursts):
            items = [_new_item(client, f"bench round {n} burst {b}") for _ in range(args.uploads)]
            start = time.monotonic()
            time.sleep(args.idle_seconds)
            idle_windows.append((start, time.monotonic()))
            bursts.append(asyncio.run(_burst(bench.base, bench.token, items, files)))
    samples = probe.samples

    def within(windows: list[tuple[float, float]]) -> list[Sample]:
        return [s for s in samples if any(a <= s[0] < z for a, z in windows)]

    busy = within([(burst.start, burst.stop) for burst in bursts])
    return Latencies.of(within(idle_windows)), Latencies.of(busy), bursts


def _round(bench: Bench, n: int) -> RoundResult:
    print(f"round {n} of {bench.args.rounds}: the big file", flush=True)
    transfers = _transfers(bench, n)
    for t in transfers:
        print(f"  {t.kind}: {t.mibps:.1f} MiB/s, cp {t.cp_mibps:.1f} MiB/s", flush=True)
    print(f"round {n}: {bench.args.bursts} burst(s) of concurrent uploads", flush=True)
    idle, busy, bursts = _concurrency(bench, n)
    return RoundResult(n, transfers, idle, busy, bursts)


def _run(args: Namespace, stack: contextlib.ExitStack, log: Path) -> list[RoundResult]:
    parent = args.work_dir.resolve() if args.work_dir else None
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-att-", dir=parent)))
    work.chmod(0o755)  # PostgreSQL runs as another user inside it
    files_dir, storage, scratch = work / "files", work / "storage", work / "scratch"
    for d in (files_dir, storage, scratch):
        d.mkdir()
    devices = {os.stat(d).st_dev for d in (files_dir, storage, scratch)}
    print(f"files, copies and STORAGE_DIR under {work} (one device: {len(devices) == 1})")
    big, small = files_dir / "big.bin", files_dir / "small.bin"
    big_size, small_size = args.size_mib * MIB, args.upload_mib * MIB
    files = Files(
        big, big_size, _random_file(big, big_size), small, small_size,
        _random_file(small, small_size),
    )  # fmt: skip
    db = args.database_url or stack.enter_context(throwaway_postgres(work))
    redis = args.redis_url or stack.enter_context(throwaway_redis(work))
    python = _python(args.portico_root)
    env = _env(db, redis, storage, max(big_size, small_size) + MIB)
    migrate = [python, "-m", "entrypoints.cli", "migrate"]
    subprocess.run(migrate, cwd=args.portico_root, env=env, check=True, capture_output=True)
    port = free_port()
    argv = [python, "-m", "entrypoints.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    running = stack.enter_context(
        serve(
            log.stem,
            argv,
            port=port,
            cwd=args.portico_root,
            env=env,
            log_dir=log.parent,
            ready_path="/health/live",
        )
    )
    pid = _server_pid(port)
    accounts = asyncio.run(seed.accounts(running.base))
    auth = {"Authorization": f"Bearer {accounts.token}"}
    with httpx.Client(base_url=running.base, headers=auth, timeout=TIMEOUT) as client:
        _check(client, files, storage)
    bench = Bench(
        args, running.base, pid, accounts.token, accounts.item_id, files, storage, scratch
    )
    return [_round(bench, n) for n in range(1, args.rounds + 1)]


# Report ---------------------------------------------------------------------------------------


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MB:.1f}"


def _transfers_table(rounds: list[RoundResult]) -> str:
    lines = [
        "| round | transfer | MiB | cp+sync MiB/s | Portico MiB/s | ratio | server RSS before MB"
        " | peak growth MB (VmHWM) | peak growth MB (50 ms VmRSS) | server CPU s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rounds:
        for t in r.transfers:
            m = t.memory
            lines.append(
                f"| {r.number} | {t.kind} | {t.size / MIB:.0f} | {t.cp_mibps:.1f} | {t.mibps:.1f}"
                f" | {t.ratio:.2f} | {_mb(m.before)} | {_mb(m.growth_hwm)}"
                f" | {_mb(m.growth_sampled)} | {m.cpu_seconds:.2f} |"
            )
    return "\n".join(lines)


def _probe_table(rounds: list[RoundResult], args: Namespace) -> str:
    lines = [
        "| round | probe window | requests | errors | p50 ms | p99 ms | max ms"
        " | uploads 201 / sent | uploads MiB/s (wall) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rounds:
        sent = sum(len(b.outcomes) for b in r.bursts)
        ok = sent - sum(len(b.failures) for b in r.bursts)
        wall = sum(b.stop - b.start for b in r.bursts)
        rate = sum(b.bytes_sent for b in r.bursts) / MIB / wall
        label = f"{args.uploads} x {args.upload_mib} MiB uploads"
        for name, lat, extra in (
            ("idle", r.idle, "| | |"),
            (label, r.busy, f"| {ok} / {sent} | {rate:.1f} ({wall:.2f} s) |"),
        ):
            lines.append(
                f"| {r.number} | {name} | {lat.count} | {lat.errors} | {lat.p50 * 1000:.2f}"
                f" | {lat.p99 * 1000:.2f} | {lat.max * 1000:.2f} {extra}"
            )
    return "\n".join(lines)


def _goals_table(rounds: list[RoundResult]) -> str:
    def mark(value: float, met: bool, fmt: str) -> str:
        return f"{value:{fmt}} {'✓' if met else '✗'}"

    rows: list[tuple[str, Callable[[RoundResult], float], Callable[[float], bool], str]] = [
        (f"upload ≥ {GOAL_THROUGHPUT}x cp", lambda r: r.transfer("upload").ratio,
         lambda v: v >= GOAL_THROUGHPUT, ".2f"),
        (f"download ≥ {GOAL_THROUGHPUT}x cp", lambda r: r.transfer("download").ratio,
         lambda v: v >= GOAL_THROUGHPUT, ".2f"),
        (f"upload: server peak RSS growth < {GOAL_RSS_MB:g} MB",
         lambda r: r.transfer("upload").memory.growth / MB, lambda v: v < GOAL_RSS_MB, ".1f"),
        (f"download: server peak RSS growth < {GOAL_RSS_MB:g} MB",
         lambda r: r.transfer("download").memory.growth / MB, lambda v: v < GOAL_RSS_MB, ".1f"),
        (f"probe p99 during uploads < {GOAL_P99:g}x idle p99",
         lambda r: r.busy.p99 / r.idle.p99, lambda v: v < GOAL_P99, ".2f"),
        ("failed uploads + probe errors = 0",
         lambda r: sum(len(b.failures) for b in r.bursts) + r.idle.errors + r.busy.errors,
         lambda v: v == 0, ".0f"),
    ]  # fmt: skip
    head = " | ".join(f"round {r.number}" for r in rounds)
    lines = [f"| goal | {head} | median |", "|---|" + "--:|" * (len(rounds) + 1)]
    for label, value, met, fmt in rows:
        values = [value(r) for r in rounds]
        cells = " | ".join(mark(v, met(v), fmt) for v in values)
        median = statistics.median(values)
        lines.append(f"| {label} | {cells} | {mark(median, met(median), fmt)} |")
    return "\n".join(lines)


def _log_summary(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    words = ("ERROR", "Traceback", "unavailable", "WARNING")
    counts = {w: sum(w in line for line in lines) for w in words}
    flagged = [line for line in lines if any(w in line for w in words)][:10]
    shown = "\n".join("    " + line[:300] for line in flagged)
    return (
        f"server log {log}: "
        + ", ".join(f"{w} {c}" for w, c in counts.items())
        + ("\n" + shown if shown else "")
    )


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _describe(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return f"{root.resolve()} at {done.stdout.strip() or 'an unknown commit'}"


def main() -> None:
    args = _options()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop every server
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="portico-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "portico-attachments.log"
    print(f"serving {_describe(args.portico_root)}; server log {log}", flush=True)
    print(
        f"{args.rounds} round(s): a {args.size_mib} MiB upload and download against cp+sync;"
        f" {args.bursts} burst(s) of {args.uploads} x {args.upload_mib} MiB uploads, each after"
        f" {args.idle_seconds:g} s of idle probing",
        flush=True,
    )
    print(f"load before: {_uptime()}", flush=True)
    with contextlib.ExitStack() as stack:
        rounds = _run(args, stack, log)
    print(f"load after: {_uptime()}")
    print("\n" + _transfers_table(rounds) + "\n\n" + _probe_table(rounds, args))
    print("\n" + _goals_table(rounds))
    print("\n" + _log_summary(log))


if __name__ == "__main__":
    main()
