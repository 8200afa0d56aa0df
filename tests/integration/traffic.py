"""A sustained mixed load on several API instances at once, bounded in count and in time.

Each `Team` is a user whose few items several clients read and change at once (PATCH without
If-Match of one item they all change, with If-Match of any; on any instance), one client
creating and deleting items of its own, and a WebSocket listener on every instance. Churners
sign in (password grant) and out again, and probe each token they logged out on every
instance; bursts read many items on one instance at once (`bursts.py`). Everything goes
through a `Recorder` and a `Ledger` (`load.py`), which the test inspects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.integration.bursts import Burst
from tests.integration.clients import (
    PASSWORD,
    RECOVERY_TIMEOUT_SECONDS,
    Account,
    bearer,
    connect_events,
)
from tests.integration.load import PROPAGATION_SECONDS, WS, Call, Ledger, Recorder
from tests.integration.servers import ApiServer

WRITERS_PER_TEAM = 4
MAX_CYCLES = 2_000  # per worker; the load is stopped long before in practice
PAUSE_SECONDS = 0.02  # between a worker's cycles
CHURN_CYCLES = 40  # sign-ins and sign-outs per churner, so sweeps stay short
CHURN_PAUSE_SECONDS = 0.25
BURST_SIZE = 160  # reads arriving at one instance at once: more than any of its pools holds
BURST_PAUSE_SECONDS = 0.5
MAX_CONNECTS = 30  # per listener
SWEEP_CONCURRENCY = 16
REQUEST_TIMEOUT_SECONDS = 15.0  # for any answer: HTTP, burst or WebSocket handshake
ALL = slice(None)
TRY_AGAIN_LATER, POLICY_VIOLATION, INTERNAL_ERROR = 1013, 1008, 1011
OK = (200,)


@dataclass(frozen=True)
class Team:
    """A user, and the items of theirs that several clients change at once."""

    name: str
    account: Account
    items: tuple[str, ...]


@dataclass(frozen=True)
class Revoked:
    """An access token whose logout was acknowledged (204), and an item its user may read."""

    token: str
    item_id: str
    where: str


class Load:
    """The workers of the load; `start` them, `stop` them, and in between `sweep` the revoked
    tokens and wait for the service to `recover`."""

    def __init__(
        self,
        recorder: Recorder,
        servers: Mapping[str, ApiServer],
        teams: list[Team],
        churners: list[tuple[Account, str]],
        *,
        seconds: float,
    ) -> None:
        self.recorder, self.servers, self.teams, self.churners = recorder, servers, teams, churners
        self.names = sorted(servers)
        self.ledger = Ledger()
        self.revoked: list[Revoked] = []
        self.closes: list[tuple[int | None, str]] = []  # sockets of live tokens the server closed
        self.foreign: list[str] = []  # events a listener should not have heard
        self.last_heard: dict[str, float] = {}  # listener -> when it last heard an event
        self.sweeps: list[str] = []  # how many tokens each sweep probed, and how long it took
        self.owned = {team.name: set(team.items) for team in teams}
        self._deadline = recorder.now() + seconds
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._titles = itertools.count()

    def running(self) -> bool:
        return not self._stopping.is_set() and self.recorder.now() < self._deadline

    def start(self) -> None:
        workers: list[Any] = []
        for team in self.teams:
            workers += [self._write(team, f"{team.name}-w{n}") for n in range(WRITERS_PER_TEAM)]
            workers.append(self._create(team, f"{team.name}-c"))
            workers += [self._listen(team, name, f"{team.name}-ws-{name}") for name in self.names]
        workers += [
            self._churn(account, item, f"churner{n}")
            for n, (account, item) in enumerate(self.churners)
        ]
        workers.append(self._burst("burst"))
        self._tasks = [asyncio.create_task(worker) for worker in workers]

    async def stop(self, timeout: float = 20.0) -> None:
        self._stopping.set()
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in self._tasks:  # a worker that crashed is a bug of the test: show it
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def title(self, who: str) -> str:
        """A title no other write sends."""
        return f"{who}#{next(self._titles)}"

    # --- requests with their bookkeeping ---------------------------------------------------

    async def read(
        self,
        who: str,
        headers: dict[str, str],
        item_id: str,
        instance: str,
    ) -> tuple[Call, httpx.Response | None]:
        floor = self.ledger.floor(item_id, instance)
        path = f"/api/v1/items/{item_id}"
        call, response = await self.recorder.send(
            instance, who, "read", "GET", path, OK, headers=headers
        )
        if call.status == 200 and response is not None:
            self.ledger.read(response.json(), floor, call.describe())
        return call, response

    async def patch(
        self,
        who: str,
        headers: dict[str, str],
        item_id: str,
        instance: str,
        *,
        if_match: str | None = None,
    ) -> Call:
        title = self.title(who)
        what, expect = ("patch-if-match", (200, 412)) if if_match else ("patch", OK)
        if if_match:
            headers = {**headers, "If-Match": if_match}
        call, response = await self.recorder.send(
            instance,
            who,
            what,
            "PATCH",
            f"/api/v1/items/{item_id}",
            expect,
            json={"title": title},
            headers=headers,
        )
        if call.status == 200 and response is not None:
            item = response.json()
            self.ledger.acknowledge(item, call.describe(), instance)
            if (item["id"], item["title"]) != (item_id, title):
                self.ledger.wrong.append(f"{call.describe()}: sent {title!r}, answered {item}")
        elif call.status == 412:
            self.ledger.refused[title] = call.describe()
        return call

    async def probe(self, revoked: Revoked, instance: str, who: str, kinds: slice = ALL) -> None:
        """Use a logged-out token on `instance`: a cached item read, then `/users/me`."""
        headers = bearer(revoked.token)
        probes = (
            ("revoked-read", f"/api/v1/items/{revoked.item_id}"),
            ("revoked-me", "/api/v1/users/me"),
        )
        for what, path in probes[kinds]:
            call, _ = await self.recorder.send(
                instance, who, what, "GET", path, (401,), headers=headers
            )
            if call.status != 401:
                call.detail = f"(logged out by {revoked.where}) {call.detail}"

    async def sweep(self, who: str = "sweep") -> None:
        """Probe every token logged out so far on every instance (one kind of probe on each,
        the other kind in the next sweep), and try a few handshakes with them."""
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)
        first = len(self.sweeps)

        async def probe(revoked: Revoked, n: int) -> None:
            async with gate:
                kind = (first + n) % 2
                await self.probe(revoked, self.names[n], who, slice(kind, kind + 1))

        revoked, started = list(self.revoked), self.recorder.now()
        await asyncio.gather(
            *(probe(r, n) for r in revoked for n in range(len(self.names))),
            *(
                self._socket_call(who, "revoked-socket", name, r.token, (403,))
                for r in revoked[-2:]
                for name in self.names
            ),
        )
        self.sweeps.append(f"{len(revoked)} in {self.recorder.now() - started:.1f}s")

    async def recover(self, since: float) -> dict[str, float | None]:
        """Seconds from `since` until each instance answers readiness, a read and a write, and
        until every listener hears a change again; None if not within the recovery timeout."""
        team = self.teams[0]
        deadline = since + RECOVERY_TIMEOUT_SECONDS

        async def instance_back(name: str) -> float | None:
            while self.recorder.now() < deadline:
                ready, _ = await self.recorder.send(
                    name, "recovery", "ready", "GET", "/health/ready", OK
                )
                if ready.status == 200:
                    read, _ = await self.read("recovery", team.account.headers, team.items[0], name)
                    write = await self.patch("recovery", team.account.headers, team.items[0], name)
                    if (read.status, write.status) == (200, 200):
                        return write.received - since
                await asyncio.sleep(0.1)
            return None

        async def events_back() -> float | None:
            listeners = [f"{t.name}-ws-{name}" for t in self.teams for name in self.names]
            while self.recorder.now() < deadline:
                if all(self.last_heard.get(who, -1.0) > since for who in listeners):
                    return self.recorder.now() - since
                await asyncio.sleep(0.05)
            return None

        *instances, events = await asyncio.gather(*map(instance_back, self.names), events_back())
        return {**dict(zip(self.names, instances, strict=True)), "events": events}

    # --- the workers ------------------------------------------------------------------------

    def _pair(self, rng: random.Random) -> tuple[str, str]:
        return rng.choice(self.names), rng.choice(self.names)

    async def _write(self, team: Team, who: str) -> None:
        """Unconditional PATCHes of the team's first item, which every writer of the team
        changes (contention), and conditional ones of any of its items."""
        rng, headers = random.Random(who), team.account.headers
        for _ in range(MAX_CYCLES):
            if not self.running():
                return
            hot, item, (x, y) = team.items[0], rng.choice(team.items), self._pair(rng)
            await self.read(who, headers, hot, x)
            await self.patch(who, headers, hot, y)
            await self.patch(who, headers, hot, x)
            call, response = await self.read(who, headers, item, y)
            if call.status == 200 and response is not None:
                await self.patch(who, headers, item, x, if_match=response.headers["ETag"])
            await asyncio.sleep(PAUSE_SECONDS)

    async def _create(self, team: Team, who: str) -> None:
        rng, headers = random.Random(who), team.account.headers
        for n in range(MAX_CYCLES):
            if not self.running():
                return
            x, y = self._pair(rng)
            call, response = await self.recorder.send(
                x,
                who,
                "create",
                "POST",
                "/api/v1/items",
                (201,),
                json={"title": self.title(who)},
                headers=headers,
            )
            if call.status == 201 and response is not None:
                item = response.json()
                self.owned[team.name].add(item["id"])
                self.ledger.created[item["id"]] = call.describe()
                self.ledger.acknowledge(item, call.describe(), x)
                await self.patch(who, headers, item["id"], y)
                await self.read(who, headers, item["id"], x)
                if n % 2 == 0:
                    await self._delete(who, headers, item["id"], y)
            await asyncio.sleep(PAUSE_SECONDS)

    async def _delete(self, who: str, headers: dict[str, str], item_id: str, instance: str) -> None:
        path = f"/api/v1/items/{item_id}"
        call, _ = await self.recorder.send(
            instance, who, "delete", "DELETE", path, (204,), headers=headers
        )
        if call.status != 204:
            return
        self.ledger.deleted[item_id] = call.describe()
        for name in self.names:
            read, _ = await self.recorder.send(
                name, who, "read-deleted", "GET", path, (404,), headers=headers
            )
            if read.status == 200 and name != instance:  # the other one: within the bound
                await asyncio.sleep(PROPAGATION_SECONDS)
                read, _ = await self.recorder.send(
                    name, who, "read-deleted", "GET", path, (404,), headers=headers
                )
            if read.status == 200:
                self.ledger.stale.append(f"{read.describe()}: deleted by {call.describe()}")

    async def _churn(self, account: Account, item_id: str, who: str) -> None:
        form = {"grant_type": "password", "username": account.email, "password": PASSWORD}
        rng = random.Random(who)
        for _ in range(CHURN_CYCLES):
            if not self.running():
                return
            x, y = self._pair(rng)
            call, response = await self.recorder.send(
                x, who, "login", "POST", "/api/v1/auth/token", OK, data=form
            )
            if call.status == 200 and response is not None:
                await self._use_and_log_out(who, response.json(), item_id, x, y)
            await asyncio.sleep(CHURN_PAUSE_SECONDS)

    async def _use_and_log_out(
        self, who: str, tokens: dict[str, str], item_id: str, x: str, y: str
    ) -> None:
        live = bearer(tokens["access_token"])
        await self.recorder.send(y, who, "me", "GET", "/api/v1/users/me", OK, headers=live)
        await self.read(who, live, item_id, x)
        call, _ = await self.recorder.send(
            y,
            who,
            "logout",
            "POST",
            "/api/v1/auth/logout",
            (204,),
            headers=live,
            json={"refresh_token": tokens["refresh_token"]},
        )
        if call.status == 204:  # (after any other answer the token's state is unknown: unused)
            revoked = Revoked(tokens["access_token"], item_id, call.describe())
            self.revoked.append(revoked)
            await asyncio.gather(*(self.probe(revoked, name, who) for name in self.names))

    async def _burst(self, who: str) -> None:
        rng = random.Random(who)
        pairs = [(team, item) for team in self.teams for item in team.items]
        bursts = {
            name: Burst("127.0.0.1", server.port, REQUEST_TIMEOUT_SECONDS)
            for name, server in self.servers.items()
        }
        try:
            for n in range(MAX_CYCLES):
                if not self.running():
                    return
                instance = self.names[n % len(self.names)]
                await self._fire(
                    bursts[instance], who, instance, [rng.choice(pairs) for _ in range(BURST_SIZE)]
                )
                await asyncio.sleep(BURST_PAUSE_SECONDS)
        finally:
            for burst in bursts.values():
                burst.close()

    async def _fire(
        self, burst: Burst, who: str, instance: str, picks: list[tuple[Team, str]]
    ) -> None:
        paths = [f"/api/v1/items/{item}" for _, item in picks]
        floors = [self.ledger.floor(item, instance) for _, item in picks]
        calls = [self.recorder.begin(who, "read", instance, "GET", path, OK) for path in paths]
        answers = await burst.send(
            [(path, team.account.headers) for path, (team, _) in zip(paths, picks, strict=True)]
        )
        for call, answer, floor in zip(calls, answers, floors, strict=True):
            if answer.status is None:
                call.detail = answer.error
            else:
                self.recorder.answered(call, answer.status, answer.headers, answer.body.decode())
            self.recorder.finish(call)
            if call.status == 200:
                self.ledger.read(json.loads(answer.body), floor, call.describe())

    async def _listen(self, team: Team, instance: str, who: str) -> None:
        for _ in range(MAX_CONNECTS):
            if not self.running():
                return
            token = team.account.access_token
            async with self._socket(who, "socket", instance, token, OK) as connection:
                if connection is not None:
                    await self._hear(connection, team, instance, who)
            await asyncio.sleep(0.2)

    async def _socket_call(
        self, who: str, what: str, instance: str, token: str, expect: tuple[int, ...]
    ) -> None:
        async with self._socket(who, what, instance, token, expect):
            pass

    @contextlib.asynccontextmanager
    async def _socket(
        self, who: str, what: str, instance: str, token: str, expect: tuple[int, ...]
    ) -> Any:
        """A handshake recorded as a Call (see `load.WS`); yields the socket once `ready`."""
        call = self.recorder.begin(who, what, instance, WS, "/api/v1/ws", expect)
        try:
            server = self.servers[instance]
            async with connect_events(server, token, REQUEST_TIMEOUT_SECONDS) as connection:
                call.status = await _first_message(connection, call)
                self.recorder.finish(call)
                yield connection if call.status == 200 else None
        except InvalidStatus as exc:
            call.status = exc.response.status_code
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            call.detail = repr(exc)
        if not call.received:
            self.recorder.finish(call)
            yield None

    async def _hear(
        self, connection: ClientConnection, team: Team, instance: str, who: str
    ) -> None:
        while self.running():
            try:
                raw = await asyncio.wait_for(connection.recv(), 0.25)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                phase = self.recorder.phase
                self.closes.append((code, f"{who}'s socket on {instance} closed {code} in {phase}"))
                return
            self.last_heard[who] = self.recorder.now()
            message = json.loads(raw)
            item = message.get("item") or {}
            where = f"{message.get('type')} event heard by {who} on {instance}"
            where += f" during {self.recorder.phase} (+{self.recorder.now():.2f}s)"
            owner = item.get("owner_id")
            mine = owner == team.account.id if owner else item.get("id") in self.owned[team.name]
            if not str(message.get("type")).startswith("item.") or not mine:
                self.foreign.append(f"{where}: {raw[:300]!r}")
            else:
                self.ledger.observe(item, where)


async def _first_message(connection: ClientConnection, call: Call) -> int | None:
    """200 once `ready` came, 503 if the server closed the socket 1013 first, else None."""
    try:
        raw = await asyncio.wait_for(connection.recv(), REQUEST_TIMEOUT_SECONDS)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        if code == TRY_AGAIN_LATER:
            return 503
        call.detail = f"closed {code} before ready"
        return None
    except TimeoutError:
        call.detail = f"no message within {REQUEST_TIMEOUT_SECONDS} s of the handshake"
        return None
    if json.loads(raw) == {"type": "ready"}:
        return 200
    call.detail = f"first message {raw[:200]!r}"
    return None
