"""Portico behind the nginx of `deploy/nginx.conf`: two `portico serve` processes sharing one
PostgreSQL and one Redis, and nginx in front of them on loopback, run from that very file (only
its ports and file paths replaced; see `proxies.render_nginx_conf`).

nginx connects upstream from 127.0.0.2 (`proxy_bind`), and the instances trust that address
alone (TRUSTED_PROXIES=127.0.0.2). A test client is any other loopback address: 127.0.0.1, or
one of 127.0.0.0/8 it binds to, which Linux answers without configuration. That is how these
tests give requests distinct client addresses: nginx sees the address the client connected
from, and appends it to X-Forwarded-For, as it would a remote client's.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.integration.clients import EventSocket, bearer, sign_up
from tests.integration.portico_process import PorticoProcess
from tests.integration.proxies import NginxServer, running_nginx, server_binary, shared_directory
from tests.integration.servers import api_environment, flush_redis, migrated_database

pytestmark = pytest.mark.slow

NGINX_ADDRESS = "127.0.0.2"  # deploy/nginx.conf's proxy_bind
RECOVERY_LIMIT = 3
UPLOAD_LIMIT = 10 * 1024 * 1024  # MAX_UPLOAD_BYTES' default, which deploy/nginx.conf follows
RECOVERY = "/api/v1/auth/password-recovery"


@dataclass(frozen=True)
class Stack:
    nginx: NginxServer
    a: PorticoProcess
    b: PorticoProcess


@pytest.fixture(scope="module")
def stack(postgres_url: str, redis_url: str) -> Iterator[Stack]:
    nginx_binary = server_binary("PORTICO_TEST_NGINX", "nginx")
    flush_redis(redis_url)
    with (
        shared_directory("portico-nginx-") as directory,
        migrated_database(postgres_url, "nginx") as database_url,
    ):
        env = api_environment(
            database_url,
            redis_url,
            TRUSTED_PROXIES=NGINX_ADDRESS,
            RECOVERY_LIMIT_PER_ADDRESS=str(RECOVERY_LIMIT),
            STORAGE_DIR=str(directory / "storage"),  # one store for both: as S3 would be
        )
        a, b = (PorticoProcess(name, env, directory) for name in ("A", "B"))
        try:
            for server in (a, b):
                server.start()
            for server in (a, b):
                server.wait_ready()
            with running_nginx(nginx_binary, directory, [a.port, b.port]) as nginx:
                yield Stack(nginx, a, b)
        finally:
            for server in (a, b):
                server.stop()


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, stack: Stack) -> Iterator[None]:
    failed_before = request.session.testsfailed
    sizes = [server.log_size() for server in (stack.a, stack.b)]
    yield
    if request.session.testsfailed > failed_before:
        for server, size in zip((stack.a, stack.b), sizes, strict=True):
            print(f"----- API process {server.name} -----\n{server.log(size)}")
        print(f"----- nginx error log -----\n{stack.nginx.error_log()[-4000:]}")
        print("----- nginx access log -----\n" + "\n".join(stack.nginx.access_lines()[-40:]))


def client(base_url: str, source: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client whose connections come from the loopback address `source`."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10, trust_env=False)


@pytest.fixture
async def via_nginx(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with client(stack.nginx.url) as http:
        yield http


def request_id() -> dict[str, str]:
    return {"X-Request-ID": f"nginx-test-{uuid.uuid4().hex}"}


async def test_rest_traffic_through_nginx_signs_up_signs_in_and_changes_items_on_both_instances(
    stack: Stack, via_nginx: httpx.AsyncClient
) -> None:
    user = await sign_up(via_nginx, "proxied")
    sent: set[str] = set()

    async def call(
        method: str, url: str, json: object = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """One request with an X-Request-ID of its own, which comes back and is in nginx's log."""
        headers = {**user.headers, **request_id(), **(headers or {})}
        sent.add(headers["X-Request-ID"])
        response = await via_nginx.request(method, url, json=json, headers=headers)
        assert response.headers["X-Request-ID"] == headers["X-Request-ID"]
        return response

    created = await call("POST", "/api/v1/items", json={"title": "through nginx"})
    assert created.status_code == 201, created.text
    item = created.json()
    location = created.headers["Location"]
    assert location == f"/api/v1/items/{item['id']}"
    fetched = await call("GET", location)
    assert (fetched.status_code, fetched.json()) == (200, item)
    patched = await call(
        "PATCH", location, json={"title": "renamed"}, headers={"If-Match": created.headers["ETag"]}
    )
    assert (patched.status_code, patched.json()["version"]) == (200, 2), patched.text
    for _ in range(2):  # each instance answers one of them: both see the change
        listed = await call("GET", "/api/v1/items")
        assert listed.status_code == 200
        assert listed.headers["X-Total-Count"] == "1"
        assert [entry["title"] for entry in listed.json()] == ["renamed"]
    assert (await call("DELETE", location)).status_code == 204
    assert (await call("GET", location)).status_code == 404

    upstreams = stack.nginx.upstreams_of(sent)
    assert len(upstreams) == len(sent)
    assert set(upstreams) == {f"127.0.0.1:{stack.a.port}", f"127.0.0.1:{stack.b.port}"}


async def test_readiness_is_answered_through_nginx(via_nginx: httpx.AsyncClient) -> None:
    response = await via_nginx.get("/health/ready")
    assert response.status_code == 200, response.text


async def test_a_websocket_through_nginx_hears_items_created_on_either_instance(
    stack: Stack, via_nginx: httpx.AsyncClient
) -> None:
    user = await sign_up(via_nginx, "listener")
    # The page's own origin: allowed only because nginx passes Host with its port.
    async with (
        ws_connect(
            stack.nginx.ws_url,
            additional_headers=bearer(user.access_token),
            origin=stack.nginx.url,  # type: ignore[arg-type]
            proxy=None,
            open_timeout=5,
            close_timeout=2,
        ) as connection,
        client(stack.a.url) as on_a,
        client(stack.b.url) as on_b,
    ):
        socket = EventSocket(connection)
        assert await socket.next_message() == {"type": "ready"}
        # nginx chose one instance for the socket; one of these two items is the other's.
        for direct, title in ((on_a, "made on A"), (on_b, "made on B")):
            made = await direct.post("/api/v1/items", json={"title": title}, headers=user.headers)
            assert made.status_code == 201, made.text
            event = await socket.next_message()
            assert (event["type"], event["item"]) == ("item.created", made.json())


async def test_a_page_served_over_https_by_a_tls_proxy_may_open_its_own_websocket(
    stack: Stack, via_nginx: httpx.AsyncClient
) -> None:
    user = await sign_up(via_nginx, "tls")
    # As a TLS-terminating proxy sends it: from the trusted address, Host api.example.com,
    # X-Forwarded-Proto https, and the browser's Origin for https://api.example.com.
    async with ws_connect(
        "ws://api.example.com/api/v1/ws",
        host="127.0.0.1",
        port=stack.a.port,
        local_addr=(NGINX_ADDRESS, 0),
        additional_headers={**bearer(user.access_token), "X-Forwarded-Proto": "https"},
        origin="https://api.example.com",  # type: ignore[arg-type]
        proxy=None,
        open_timeout=5,
        close_timeout=2,
    ) as connection:
        assert await EventSocket(connection).next_message() == {"type": "ready"}


async def test_rate_limits_behind_nginx_count_the_address_nginx_saw_whatever_the_client_claims(
    stack: Stack,
) -> None:
    sent: set[str] = set()
    async with (
        client(stack.nginx.url, "127.0.0.11") as first,
        client(stack.nginx.url, "127.0.0.12") as second,
    ):

        async def recover(http: httpx.AsyncClient, claimed: str) -> httpx.Response:
            headers = {"X-Forwarded-For": claimed, **request_id()}
            sent.add(headers["X-Request-ID"])
            return await http.post(RECOVERY, json={"email": "who@example.com"}, headers=headers)

        for n in range(RECOVERY_LIMIT):  # a new claimed address each time: the limit holds
            assert (await recover(first, f"203.0.113.{n}")).status_code == 202
        refused = await recover(first, "203.0.113.99")
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        # Another address behind the same nginx has its own count.
        assert (await recover(second, "203.0.113.0")).status_code == 202

    # The requests of 127.0.0.11 went to both instances: the count is shared (Redis).
    assert len(set(stack.nginx.upstreams_of(sent))) == 2


async def test_x_forwarded_for_is_believed_only_from_nginxs_address(stack: Stack) -> None:
    async def recover(source: str, claimed: str, url: str = stack.a.url) -> int:
        async with client(url, source) as http:
            headers = {"X-Forwarded-For": claimed}
            body = {"email": "who@example.com"}
            return (await http.post(RECOVERY, json=body, headers=headers)).status_code

    # Straight to an instance from 127.0.0.1, which is not trusted: every claim is ignored and
    # all the requests count against 127.0.0.1.
    statuses = [await recover("127.0.0.1", f"198.51.100.{n}") for n in range(RECOVERY_LIMIT + 1)]
    assert statuses == [202] * RECOVERY_LIMIT + [429]
    # Through nginx, 127.0.0.1 is the address nginx appends: the same exhausted count.
    assert await recover("127.0.0.1", "198.51.100.50", stack.nginx.url) == 429
    # The same claim from nginx's own address is believed: a fresh count for that client.
    assert await recover(NGINX_ADDRESS, "198.51.100.50") == 202


async def test_attachments_and_exports_stream_through_nginx(
    via_nginx: httpx.AsyncClient,
) -> None:
    user = await sign_up(via_nginx, "files")
    created = await via_nginx.post("/api/v1/items", json={"title": "box"}, headers=user.headers)
    url = f"{created.headers['Location']}/attachments"
    data = os.urandom(3 * 1024 * 1024 + 17)
    stored = await via_nginx.post(url, files={"file": ("big.bin", data)}, headers=user.headers)
    assert stored.status_code == 201, stored.text
    assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()

    async with via_nginx.stream("GET", stored.headers["Location"], headers=user.headers) as got:
        assert got.status_code == 200
        assert got.headers["Content-Length"] == str(len(data))
        assert b"".join([chunk async for chunk in got.aiter_bytes()]) == data

    ranged = await via_nginx.get(
        stored.headers["Location"], headers={**user.headers, "Range": "bytes=100-199"}
    )
    assert (ranged.status_code, ranged.content) == (206, data[100:200])

    # Over MAX_UPLOAD_BYTES and its framing: refused, by nginx or by Portico, never stored.
    oversized = b"\0" * (UPLOAD_LIMIT + 64 * 1024 + 1)
    refused = await via_nginx.post(
        url, files={"file": ("huge.bin", oversized)}, headers=user.headers
    )
    assert refused.status_code == 413
    listed = await via_nginx.get(url, headers=user.headers)
    assert [entry["filename"] for entry in listed.json()] == ["big.bin"]

    exported = await via_nginx.get("/api/v1/items/export", headers=user.headers)
    assert exported.status_code == 200, exported.text
    assert created.json()["id"] in exported.text


async def test_nginx_sends_requests_to_the_other_instance_while_one_is_down(
    stack: Stack, via_nginx: httpx.AsyncClient
) -> None:
    """Last in the module: it stops B, as a rolling restart does."""
    user = await sign_up(via_nginx, "rolling")
    _, status = stack.b.terminate(timeout=15)
    assert status is not None, "B did not stop on SIGTERM"
    statuses = []
    for n in range(6):  # POSTs included: a refused connection is retried before it was sent
        made = await via_nginx.post("/api/v1/items", json={"title": f"#{n}"}, headers=user.headers)
        statuses.append(made.status_code)
        statuses.append((await via_nginx.get("/health/ready")).status_code)
    assert statuses == [201, 200] * 6
    listed = await via_nginx.get("/api/v1/items", headers=user.headers)
    assert listed.headers["X-Total-Count"] == "6"
