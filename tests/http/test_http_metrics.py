"""GET /metrics: the Prometheus text of docs/http-api.md ("Operations"), and who may read it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from adapters.sqlalchemy.migrate import upgrade_async
from application.errors import DependencyUnavailable
from application.ports import EmailMessage
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.http.conftest import PASSWORD, make_container, test_settings, unique_email

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEM_ROUTE = "/api/v1/items/{item_id}"
FAMILIES = {
    "portico_http_requests": "counter",
    "portico_http_request_duration_seconds": "histogram",
    "portico_db_pool_connections": "gauge",
    "portico_cache_requests": "counter",
    "portico_websocket_connections": "gauge",
    "portico_jobs": "counter",
    "portico_jobs_waiting": "gauge",
}


class Scrape:
    """One scrape's samples, looked up by name and labels (0 for a series not there)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types = {}
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[sample.name, frozenset(sample.labels.items())] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for sample, labels in self.samples if sample == name]


async def scrape(client: httpx.AsyncClient, **kwargs: object) -> Scrape:
    response = await client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def requests_of(scrape: Scrape, method: str, route: str, status: int) -> float:
    return scrape("portico_http_requests_total", method=method, route=route, status=str(status))


# --- the text -----------------------------------------------------------------------------


async def test_metrics_are_prometheus_text_with_every_family_api_md_names(client):
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    types = Scrape(response.text).types
    assert {name: types.get(name) for name in FAMILIES} == FAMILIES
    assert "# TYPE portico_http_requests_total counter" in response.text


async def test_metrics_are_not_in_the_openapi_document(client):
    document = (await client.get("/openapi.json")).json()

    assert "/metrics" not in document["paths"]


async def test_pool_connections_are_reported_in_use_and_idle(client, container: Container):
    held = await container.engine().connect()
    try:
        await held.exec_driver_sql("SELECT 1")
        during = await scrape(client)
    finally:
        await held.close()
    after = await scrape(client)

    assert during("portico_db_pool_connections", state="in_use") >= 1
    assert after("portico_db_pool_connections", state="idle") >= 1
    assert {frozenset(labels) for labels in after.labels_of("portico_db_pool_connections")} == {
        frozenset({"state"})
    }
    assert {labels["state"] for labels in after.labels_of("portico_db_pool_connections")} == {
        "in_use",
        "idle",
    }


# --- requests -----------------------------------------------------------------------------


async def test_a_request_is_counted_and_timed_under_its_route_template_never_its_path(
    client, alice, make_item
):
    item = await make_item(alice)
    before = await scrape(client)

    for _ in range(2):
        response = await client.get(f"/api/v1/items/{item['id']}", headers=alice.headers)
        assert response.status_code == 200
    after = await scrape(client)

    assert (
        requests_of(after, "GET", ITEM_ROUTE, 200) - requests_of(before, "GET", ITEM_ROUTE, 200)
        == 2
    )
    count = "portico_http_request_duration_seconds_count"
    assert (
        after(count, method="GET", route=ITEM_ROUTE) - before(count, method="GET", route=ITEM_ROUTE)
        == 2
    )
    bucket = "portico_http_request_duration_seconds_bucket"
    assert after(bucket, method="GET", route=ITEM_ROUTE, le="+Inf") == after(
        count, method="GET", route=ITEM_ROUTE
    )
    assert str(item["id"]) not in after.text


async def test_a_path_no_route_has_is_counted_as_unmatched(client):
    before = await scrape(client)
    secret = uuid.uuid4().hex

    response = await client.get(f"/api/v1/nowhere/{secret}?token={secret}")
    after = await scrape(client)

    assert response.status_code == 404
    assert (
        requests_of(after, "GET", "unmatched", 404) - requests_of(before, "GET", "unmatched", 404)
        == 1
    )
    assert secret not in after.text
    assert "/api/v1/nowhere" not in after.text


async def test_a_method_a_known_path_lacks_is_counted_under_that_paths_template(client):
    before = await scrape(client)

    response = await client.delete("/health/live")
    after = await scrape(client)

    assert response.status_code == 405
    assert (
        requests_of(after, "DELETE", "/health/live", 405)
        - requests_of(before, "DELETE", "/health/live", 405)
        == 1
    )


async def test_head_is_counted_as_head_under_the_get_routes_template(client, alice, make_item):
    item = await make_item(alice)
    before = await scrape(client)

    response = await client.head(f"/api/v1/items/{item['id']}", headers=alice.headers)
    after = await scrape(client)

    assert response.status_code == 200
    assert (
        requests_of(after, "HEAD", ITEM_ROUTE, 200) - requests_of(before, "HEAD", ITEM_ROUTE, 200)
        == 1
    )


async def test_statuses_are_counted_apart_under_one_route(client, alice):
    before = await scrape(client)

    unknown = await client.get(f"/api/v1/items/{uuid.uuid4()}", headers=alice.headers)
    anonymous = await client.get(f"/api/v1/items/{uuid.uuid4()}")
    after = await scrape(client)

    assert (unknown.status_code, anonymous.status_code) == (404, 401)
    for status in (404, 401):
        assert (
            requests_of(after, "GET", ITEM_ROUTE, status)
            - requests_of(before, "GET", ITEM_ROUTE, status)
            == 1
        )


async def test_a_request_the_app_fails_with_an_exception_is_counted_as_a_500(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/t.db"
    await upgrade_async(url)
    app = create_app(make_container(test_settings(url)))

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.get("/api/v1/broken")
        after = await scrape(client)

    assert response.status_code == 500
    assert requests_of(after, "GET", "/api/v1/broken", 500) == 1


# --- what the adapters count --------------------------------------------------------------


async def test_item_cache_lookups_are_counted_as_hits_and_misses(client, alice, make_item):
    item = await make_item(alice)  # written through to the cache
    before = await scrape(client)

    assert (
        await client.get(f"/api/v1/items/{item['id']}", headers=alice.headers)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/items/{uuid.uuid4()}", headers=alice.headers)
    ).status_code == 404
    after = await scrape(client)

    cache = "portico_cache_requests_total"
    assert after(cache, result="hit") - before(cache, result="hit") == 1
    assert after(cache, result="miss") - before(cache, result="miss") == 1


@asynccontextmanager
async def websocket(app: object, headers: dict[str, str]) -> AsyncIterator[object]:
    transport = ASGIWebSocketTransport(app=app)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as ws_client,
        aconnect_ws("http://test/api/v1/ws", ws_client, headers=headers) as ws,
    ):
        assert json.loads(await ws.receive_text(timeout=2.0)) == {"type": "ready"}
        yield ws


async def websockets_open(client: httpx.AsyncClient) -> float:
    return (await scrape(client))("portico_websocket_connections")


async def test_open_websockets_are_a_gauge_that_falls_when_they_close(app, client, alice, bob):
    idle = await websockets_open(client)

    async with websocket(app, alice.headers), websocket(app, bob.headers):
        both = await websockets_open(client)
    for _ in range(100):  # the server's side of a close ends a moment after the client's
        if await websockets_open(client) == idle:
            break
        await asyncio.sleep(0.02)

    assert both == idle + 2
    assert await websockets_open(client) == idle


async def test_finished_jobs_are_counted_by_kind_and_outcome(client, mailbox):
    before = await scrape(client)

    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201
    await mailbox.settled()
    after = await scrape(client)

    done = {"kind": "mail.welcome", "outcome": "done"}
    assert after("portico_jobs_total", **done) - before("portico_jobs_total", **done) >= 1
    assert after("portico_jobs_waiting") >= 0


class RefusingSender:
    """An EmailSender whose server is always away: every mail job is retried."""

    async def send(self, message: EmailMessage) -> None:
        raise DependencyUnavailable("the mail server is unavailable")


async def test_a_job_that_will_be_retried_counts_as_retried_and_as_waiting(own_client):
    containers: list[Container] = []

    def configure(container: Container) -> None:
        container.email_sender.override(providers.Object(RefusingSender()))
        containers.append(container)

    retried = {"kind": "mail.welcome", "outcome": "retried"}
    swept = {"kind": "blobs.sweep", "outcome": "done"}  # the start's sweep: the next one waits
    async with own_client(configure=configure) as client:
        body = {"email": unique_email(), "password": PASSWORD}
        assert (await client.post("/api/v1/auth/register", json=body)).status_code == 201
        for _ in range(250):
            after = await scrape(client)
            if after("portico_jobs_total", **retried) and after("portico_jobs_total", **swept):
                break
            await asyncio.sleep(0.02)
        waiting = await containers[0].job_queue().list(state="waiting", limit=100)

    assert after("portico_jobs_total", **retried) == 1
    assert "mail.welcome" in {job.kind for job in waiting}
    assert after("portico_jobs_waiting") == len(waiting)


# --- who may read them --------------------------------------------------------------------


async def test_metrics_are_a_404_like_any_unknown_path_to_a_client_outside_metrics_allow(
    own_client,
):
    async with own_client(peer=("203.0.113.7", 4000)) as client:
        answers = {}
        for method in ("GET", "HEAD", "POST"):
            for path in ("/metrics", "/no-such-page"):
                response = await client.request(method, path)
                answers[method, path] = (
                    response.status_code,
                    response.headers.get("content-type"),
                    response.content,
                )

    for method in ("GET", "HEAD", "POST"):
        assert answers[method, "/metrics"] == answers[method, "/no-such-page"]
        assert answers[method, "/metrics"][0] == 404
    assert b"portico_" not in answers["GET", "/metrics"][2]


async def test_a_client_behind_a_trusted_proxy_is_allowed_by_its_forwarded_address(own_client):
    settings = {"trusted_proxies": ["10.0.0.0/8"], "metrics_allow": ["192.0.2.0/24"]}

    async with own_client(peer=("10.0.0.5", 4000), **settings) as client:
        allowed = await client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.44"})
        outside = await client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"})
        spoofed = await client.get(
            "/metrics", headers={"X-Forwarded-For": "192.0.2.44, 198.51.100.1"}
        )
        the_proxy_itself = await client.get("/metrics")

    assert allowed.status_code == 200
    assert "portico_http_requests_total" in allowed.text
    assert [outside.status_code, spoofed.status_code, the_proxy_itself.status_code] == [404] * 3


async def test_a_forwarded_address_is_ignored_from_a_peer_that_is_no_trusted_proxy(own_client):
    async with own_client(peer=("198.51.100.9", 4000), metrics_allow=["192.0.2.0/24"]) as client:
        response = await client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.44"})

    assert response.status_code == 404


async def test_loopback_clients_are_allowed_by_default_over_ipv4_and_ipv6(own_client):
    for peer in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        async with own_client(peer=(peer, 4000)) as client:
            assert (await client.get("/metrics")).status_code == 200, peer


async def test_metrics_allow_is_a_comma_separated_list_of_addresses_and_networks(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOW", "10.0.0.0/8, 192.0.2.7 ,::1")

    assert Settings(environment="test").metrics_allow == ["10.0.0.0/8", "192.0.2.7", "::1"]
    assert Settings(environment="test", metrics_allow=[]).metrics_allow == []


async def test_metrics_allow_refuses_an_entry_that_is_no_address_or_network(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOW", "127.0.0.0/8,localhost")

    with pytest.raises(ValidationError, match="'localhost' is not an IP address or network"):
        Settings(environment="test")
