"""Under a sustained mixed load, two API instances ride out a Redis crash and a PostgreSQL
restart: no server error, 503 (with Retry-After) only while the database is down, recovery
without a restart, no acknowledged write lost, no revoked token accepted.

Instances A and B are real `uvicorn` processes on a Redis of the module's own and the throwaway
PostgreSQL cluster of `scripts/check`. The load (`traffic.py`) runs through five phases: steady;
Redis killed and started again (empty); steady; `pg_ctl restart -m fast`; steady. The scenario
runs once for the module (the `run` fixture); each test checks one property of what it saw.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from tests.contract.databases import run_blocking
from tests.integration.clients import Account, http_client, sign_up
from tests.integration.load import WS, Call, Recorder
from tests.integration.servers import (
    ApiServer,
    PostgresCluster,
    RedisServer,
    api_environment,
    database_dsn,
    migrated_database,
    running_api_servers,
    running_redis_server,
)
from tests.integration.traffic import (
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    REQUEST_TIMEOUT_SECONDS,
    Load,
    Team,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(90)]

TEAMS, ITEMS_PER_TEAM, CHURNERS = 3, 2, 2
STEADY_SECONDS = 3.0
REDIS_DOWN_SECONDS = 2.0
POSTGRES_GRACE_SECONDS = 2.0
"""After `pg_ctl restart` returns, connections pooled before it may still fail once each."""
LOAD_SECONDS = 60.0  # the workers stop by themselves then, whatever happens
SHOWN = 12  # examples per failure message
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Unavailable)\b")


@dataclass
class Phase:
    """A stretch of the scenario, and each instance's log offsets at its start and end."""

    name: str
    steady: bool
    start: float
    end: float = 0.0
    logs: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Run:
    """Everything the scenario saw, for the tests to judge."""

    load: Load
    servers: dict[str, ApiServer]
    phases: list[Phase] = field(default_factory=list)
    postgres_down: tuple[float, float] = (0.0, 0.0)  # restart begun, PostgreSQL answering again
    recoveries: dict[str, dict[str, float | None]] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)  # phases whose requests hung on
    stored: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (title, version)

    @property
    def calls(self) -> list[Call]:
        return self.load.recorder.calls

    def while_postgres_down(self, call: Call) -> bool:
        """Whether the call was in flight while PostgreSQL was down (or just back)."""
        down, up = self.postgres_down
        return call.received >= down and call.sent <= up + POSTGRES_GRACE_SECONDS


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_cluster(postgres_url: str) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.from_environment()
    if cluster is None:
        pytest.skip("restarting PostgreSQL needs PORTICO_TEST_PG_* (bash scripts/check sets them)")
    yield cluster
    if not cluster.answers():  # the scenario failed half-way through the restart
        cluster.start()


@pytest.fixture(scope="module")
def run(
    postgres_url: str,
    postgres_cluster: PostgresCluster,
    redis_server_binary: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    with (
        running_redis_server(redis_server_binary, tmp_path_factory.mktemp("redis")) as redis,
        migrated_database(postgres_url, "faults") as database_url,
    ):
        env = api_environment(
            database_url,
            redis.url,
            LOGIN_LIMIT_PER_ACCOUNT="100000",  # the churners sign in again and again
            LOGIN_LIMIT_PER_ADDRESS="100000",
        )
        log_dir = tmp_path_factory.mktemp("faults")
        with running_api_servers(["A", "B"], env, log_dir) as servers:
            named = {server.name: server for server in servers}
            result = run_blocking(scenario(named, redis, postgres_cluster, database_url))
            print(summary(result))
            yield result


# --- the scenario -----------------------------------------------------------------------------


async def scenario(
    servers: dict[str, ApiServer], redis: RedisServer, postgres: PostgresCluster, database_url: str
) -> Run:
    clients = {
        name: http_client(server, timeout=REQUEST_TIMEOUT_SECONDS, connections=64)
        for name, server in servers.items()
    }
    try:
        recorder = Recorder(clients)
        load = await prepared_load(recorder, servers)
        result = Run(load, servers)
        load.start()
        try:
            await phases(result, redis, postgres)
        finally:
            recorder.phase = "wind-down"
            await load.stop()
        result.stored = await stored_items(database_url, [*load.ledger.acked, *load.ledger.deleted])
        return result
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))


async def prepared_load(recorder: Recorder, servers: dict[str, ApiServer]) -> Load:
    client = recorder.clients["A"]
    teams, churners, setup = [], [], []
    for n in range(TEAMS + CHURNERS):
        account = await sign_up(client, f"load{n}")
        items = [
            await create_item(client, account, f"setup-{n}-{i}") for i in range(ITEMS_PER_TEAM)
        ]
        setup += items
        if n < TEAMS:
            teams.append(Team(f"team{n}", account, tuple(item["id"] for item in items)))
        else:
            churners.append((account, items[0]["id"]))
    load = Load(recorder, servers, teams, churners, seconds=LOAD_SECONDS)
    for item in setup:
        load.ledger.acknowledge(item, "setup", "setup")
    return load


async def create_item(client: httpx.AsyncClient, account: Account, title: str) -> dict[str, Any]:
    response = await client.post("/api/v1/items", json={"title": title}, headers=account.headers)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def phases(run: Run, redis: RedisServer, postgres: PostgresCluster) -> None:
    load, now = run.load, run.load.recorder.now

    with phase(run, "steady-1", steady=True):
        await asyncio.gather(asyncio.sleep(STEADY_SECONDS), load.sweep())

    with phase(run, "redis-outage", steady=False):
        await asyncio.to_thread(redis.kill)  # SIGKILL: a crash; it comes back empty
        killed = now()
        await load.sweep()
        await asyncio.sleep(max(0.0, killed + REDIS_DOWN_SECONDS - now()))
        await asyncio.to_thread(redis.start)
        await recover(run, "redis", since=now())

    with phase(run, "steady-2", steady=True):
        await asyncio.gather(asyncio.sleep(STEADY_SECONDS), load.sweep())

    with phase(run, "postgres-restart", steady=False):
        down = now()

        async def restart() -> float:
            await asyncio.to_thread(postgres.restart)
            return now()

        up, _ = await asyncio.gather(restart(), load.sweep())
        run.postgres_down = (down, up)
        await recover(run, "postgres", since=up)

    with phase(run, "steady-3", steady=True):
        await asyncio.gather(asyncio.sleep(STEADY_SECONDS), load.sweep())


@contextmanager
def phase(run: Run, name: str, *, steady: bool) -> Iterator[None]:
    recorder = run.load.recorder
    recorder.phase = name
    starts = {n: server.log_size() for n, server in run.servers.items()}
    current = Phase(name, steady, recorder.now())
    try:
        yield
    finally:
        current.end = recorder.now()
        current.logs = {n: (starts[n], server.log_size()) for n, server in run.servers.items()}
        run.phases.append(current)


async def recover(run: Run, fault: str, since: float) -> None:
    """Wait (bounded) for the service to come back, then for the fault's requests to end."""
    run.recoveries[fault] = await run.load.recover(since)
    recorder = run.load.recorder
    if not await recorder.settled(recorder.now(), REQUEST_TIMEOUT_SECONDS + 1):
        run.unsettled.append(recorder.phase)


async def stored_items(database_url: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    conn = await asyncpg.connect(database_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT id::text, title, version FROM items WHERE id::text = ANY($1::text[])", ids
        )
    finally:
        await conn.close()
    return {row["id"]: (row["title"], row["version"]) for row in rows}


# --- reporting --------------------------------------------------------------------------------


def summary(run: Run) -> str:
    counts = Counter((c.phase, c.status) for c in run.calls)
    by_phase: dict[str, list[str]] = {}
    for (name, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        by_phase.setdefault(name, []).append(f"{status}x{n}")
    lines = [f"LOAD AND FAULTS: {len(run.calls)} requests in {run.load.recorder.now():.1f}s"]
    lines += [
        f"  {p.name} ({p.end - p.start:.1f}s): {' '.join(by_phase.get(p.name, []))}"
        for p in run.phases
    ]
    lines.append(f"  postgres down +{run.postgres_down[0]:.2f}s..+{run.postgres_down[1]:.2f}s")
    lines.append(f"  recovery (seconds): {run.recoveries}")
    lines.append(f"  revoked tokens: {len(run.load.revoked)}; sweeps: {run.load.sweeps}")
    lines.append(f"  socket closes: {run.load.closes}")
    return "\n".join(lines)


def report(run: Run, title: str, lines: list[str], count: int | None = None) -> str:
    """A failure message: how many, the first few, and the scenario's timeline."""
    shown = [f"  {line}" for line in lines[:SHOWN]]
    more = [f"  ... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else []
    timeline = ", ".join(f"{p.name} +{p.start:.2f}s..+{p.end:.2f}s" for p in run.phases)
    down, up = run.postgres_down
    timeline += f"; PostgreSQL down +{down:.2f}s..+{up:.2f}s"
    heading = f"{len(lines) if count is None else count} {title}:"
    return "\n".join([heading, *shown, *more, f"(timeline: {timeline})"])


def with_server_log(run: Run, call: Call) -> str:
    """The call, and what the instance logged about it (found by its request id): the line
    naming it and the exceptions of the traceback after it."""
    server = run.servers[call.instance]
    lines = server.log_between(0, server.log_size()).splitlines()
    found = [i for i, line in enumerate(lines) if call.request_id and call.request_id in line]
    if not found:
        return call.describe()
    after = lines[found[0] + 1 : found[0] + 400]
    raised = [line for line in after if EXCEPTION_LINE.match(line)][:2]
    return "\n      ".join([call.describe(), f"log: {lines[found[0]].strip()}", *raised])


def unexpected(call: Call) -> bool:
    return call.status is not None and call.status not in call.expect


# --- the properties ---------------------------------------------------------------------------


def test_no_request_on_either_instance_is_answered_with_a_5xx_other_than_503(run: Run) -> None:
    errors = [c for c in run.calls if c.status is not None and c.status >= 500 and c.status != 503]
    assert not errors, report(run, "5xx answers", [with_server_log(run, c) for c in errors])


def test_every_request_gets_an_answer(run: Run) -> None:
    lost = [c.describe() for c in run.calls if c.status is None]
    assert not lost, report(run, "requests without an answer", lost)
    assert not run.unsettled, f"requests unanswered {REQUEST_TIMEOUT_SECONDS} s after recovery"


def test_every_503_carries_retry_after(run: Run) -> None:
    bare = [
        c.describe()
        for c in run.calls
        if c.status == 503 and c.method != WS and c.what != "ready" and not c.retry_after
    ]
    assert not bare, report(run, "503 answers without Retry-After", bare)


def test_503s_come_only_while_postgresql_is_down(run: Run) -> None:
    down, up = run.postgres_down
    outside = [
        with_server_log(run, c)
        for c in run.calls
        if c.status == 503 and c.what != "ready" and not run.while_postgres_down(c)
    ]
    window = f"PostgreSQL down +{down:.2f}s..+{up:.2f}s, grace {POSTGRES_GRACE_SECONDS}s"
    assert not outside, report(run, f"503 answers outside the outage ({window})", outside)


@pytest.mark.parametrize("fault", ["redis", "postgres"])
def test_after_the_fault_both_instances_serve_reads_and_writes_again_by_themselves(
    run: Run, fault: str
) -> None:
    recovery = run.recoveries[fault]
    stuck = [name for name in run.servers if recovery.get(name) is None]
    assert not stuck, f"after the {fault} fault, not serving reads and writes again: {stuck}"


@pytest.mark.parametrize("fault", ["redis", "postgres"])
def test_after_the_fault_websocket_listeners_on_both_instances_hear_changes_again(
    run: Run, fault: str
) -> None:
    assert run.recoveries[fault].get("events") is not None, (
        f"after the {fault} fault, some listener heard no change within the recovery timeout:"
        f" last heard {run.load.last_heard}"
    )


def test_every_acknowledged_write_is_in_the_database(run: Run) -> None:
    ledger, problems = run.load.ledger, []
    for item_id, (version, title, where) in ledger.acked.items():
        stored = run.stored.get(item_id)
        if item_id in ledger.deleted:
            continue
        if stored is None:
            problems.append(f"item {item_id} is not in the database; acknowledged by {where}")
        elif stored[1] < version:
            problems.append(f"item {item_id} is at version {stored[1]}; {version} by {where}")
        elif stored[1] == version and stored[0] != title:
            problems.append(f"item {item_id} v{version} is {stored[0]!r}; {title!r} by {where}")
    for item_id, (title, version) in run.stored.items():
        seen = ledger.seen.get((item_id, version), {})
        if seen and title not in seen:
            problems.append(f"item {item_id} v{version} is {title!r} in the database; {seen}")
    gone = [
        f"item {i} is still in the database; deleted by {w}"
        for i, w in ledger.deleted.items()
        if i in run.stored
    ]
    assert ledger.created and ledger.deleted, "the load acknowledged no create or no delete"
    problems += gone
    assert not problems, report(run, "acknowledged writes not as acknowledged", problems)


def test_each_version_of_an_item_shows_one_state_and_refused_changes_none(run: Run) -> None:
    ledger = run.load.ledger
    problems = ledger.conflicts() + ledger.shown_refused() + ledger.wrong
    problems += [
        f"{t!r} refused by {w} is in the database"
        for t, w in ledger.refused.items()
        if t in {title for title, _ in run.stored.values()}
    ]
    assert not problems, report(run, "lost, invented or refused-yet-applied changes", problems)


def test_no_read_on_either_instance_is_older_than_an_acknowledged_write(run: Run) -> None:
    stale = run.load.ledger.stale
    assert not stale, report(run, "reads behind a write acknowledged before they were sent", stale)


def test_no_logged_out_token_is_accepted_on_either_instance_in_any_phase(run: Run) -> None:
    revoked = [c for c in run.calls if c.what.startswith("revoked")]
    accepted = [c.describe() for c in revoked if c.status is not None and 200 <= c.status < 300]
    assert not accepted, report(run, "requests with a logged-out token accepted", accepted)
    logouts = sorted(c.received for c in run.calls if c.what == "logout" and c.status == 204)
    assert logouts, "no logout was acknowledged"
    for p in run.phases:  # the test's own check: every token was probed in every later phase
        before = sum(1 for t in logouts if t < p.start)
        for name in run.servers:
            probes = sum(1 for c in revoked if c.phase == p.name and c.instance == name)
            assert probes >= before, f"{p.name}: {probes} probes on {name} of {before} tokens"


def test_unconditional_patches_are_never_refused_with_412(run: Run) -> None:
    refused = [c.describe() for c in run.calls if c.what == "patch" and c.status == 412]
    assert not refused, report(run, "PATCHes without If-Match answered 412", refused)


def test_every_other_answer_is_one_its_request_allows(run: Run) -> None:
    covered = {"ready"}  # (readiness: any answer but a 5xx other than 503 is fine)
    odd = [
        c.describe()
        for c in run.calls
        if unexpected(c)
        and c.what not in covered
        and c.status != 503  # judged above
        and c.status < 500
        and not (c.what.startswith("revoked") and 200 <= c.status < 300)
        and not (c.what == "patch" and c.status == 412)
        and not (c.what == "read-deleted" and c.status == 200)  # a stale read: judged above
    ]
    title = "answers their request does not allow (401: a live token refused)"
    assert not odd, report(run, title, odd)


def test_steady_phases_log_nothing_unavailable(run: Run) -> None:
    said, raised = Counter[str](), Counter[str]()  # (the exceptions logged too, as evidence)
    for p in run.phases:
        for name, (start, end) in p.logs.items() if p.steady else ():
            for line in run.servers[name].log_between(start, end).splitlines():
                where = f"{name} during {p.name}: {line.strip()[:200]}"
                if "unavailable" in line.lower():
                    said[where] += 1
                elif EXCEPTION_LINE.match(line):
                    raised[where] += 1
    lines = [f"{n} x {line}" for line, n in said.most_common(8)]
    lines += [f"(exception logged) {n} x {line}" for line, n in raised.most_common(4)]
    title = "log lines saying 'unavailable' while both stores were up (commonest first)"
    assert not said, report(run, title, lines, said.total())


def test_websocket_listeners_hear_only_their_own_items_and_keep_their_sockets(run: Run) -> None:
    load = run.load
    refused = [c.describe() for c in run.calls if c.what == "socket" and c.status == 403]
    closed = [text for code, text in load.closes if code in (POLICY_VIOLATION, INTERNAL_ERROR)]
    problems = load.foreign + refused + closed
    title = "foreign events, live tokens refused, or sockets closed for their token"
    assert not problems, report(run, title, problems)
