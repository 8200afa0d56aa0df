"""Security headers on every response (docs/http-api.md): successes, problems, 404s, the
answers middleware gives before the app runs, and the generic 500; HSTS only over HTTPS.

The module's app keeps its attachment bytes in a directory of its own.
"""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio
from dependency_injector import providers

from adapters.sqlalchemy.migrate import upgrade_async
from entrypoints.container import Container
from tests.http.conftest import Account, RecordingEmailSender, make_container, test_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS, ME = "/api/v1/items", "/api/v1/users/me"
HSTS = "max-age=63072000; includeSubDomains"
PROXY = ("10.0.0.7", 4321)  # a reverse proxy in TRUSTED_PROXIES
STRANGER = ("203.0.113.9", 4321)


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def container(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Container:
    await upgrade_async(database_url)
    storage = str(tmp_path_factory.mktemp("blobs"))
    container = make_container(test_settings(database_url, storage_dir=storage))
    container.email_sender.override(providers.Object(RecordingEmailSender(container.job_queue())))
    return container


def assert_secured(response: httpx.Response, cache_control: str = "no-store") -> None:
    """The headers every response carries, each once; no HSTS (the client spoke plain HTTP)."""
    headers = response.headers
    assert headers.get_list("x-content-type-options") == ["nosniff"]
    assert headers.get_list("referrer-policy") == ["no-referrer"]
    assert headers.get_list("cache-control") == [cache_control]
    assert "strict-transport-security" not in headers


async def test_a_200_carries_the_security_headers(client: httpx.AsyncClient, alice: Account):
    response = await client.get(ME, headers=alice.headers)

    assert response.status_code == 200
    assert_secured(response)


async def test_a_201_carries_the_security_headers(client: httpx.AsyncClient, alice: Account):
    response = await client.post(ITEMS, json={"title": "Buy milk"}, headers=alice.headers)

    assert response.status_code == 201
    assert_secured(response)


async def test_an_etagd_item_read_is_no_store_as_it_sets_no_policy_of_its_own(
    client: httpx.AsyncClient, alice: Account, make_item
):
    item = await make_item(alice)

    response = await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers)

    assert response.status_code == 200 and response.headers["etag"]
    assert_secured(response)


@pytest.mark.parametrize("path", [f"{ITEMS}/0193a5c4-01b2-7d4e-8f60-5a4b3c2d1e0f", "/nowhere"])
async def test_a_404_problem_carries_them_whether_or_not_a_route_has_the_path(
    client: httpx.AsyncClient, alice: Account, path: str
):
    response = await client.get(path, headers=alice.headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert_secured(response)


async def test_a_422_problem_carries_them(client: httpx.AsyncClient, alice: Account):
    response = await client.post(ITEMS, json={"title": ""}, headers=alice.headers)

    assert response.status_code == 422
    assert_secured(response)


async def test_a_405_carries_them(client: httpx.AsyncClient):
    response = await client.put("/health/live")

    assert response.status_code == 405
    assert_secured(response)


async def test_a_401_carries_them_beside_its_challenge(client: httpx.AsyncClient):
    response = await client.get(ME)

    assert response.status_code == 401 and response.headers["www-authenticate"]
    assert_secured(response)


async def test_a_head_answer_carries_them(client: httpx.AsyncClient, alice: Account):
    response = await client.head(ME, headers=alice.headers)

    assert response.status_code == 200 and response.content == b""
    assert_secured(response)


async def test_a_token_response_keeps_its_own_no_store_and_pragma(
    client: httpx.AsyncClient, alice: Account
):
    form = {"grant_type": "password", "username": alice.email, "password": alice.password}

    response = await client.post("/api/v1/auth/token", data=form)

    assert response.status_code == 200
    assert_secured(response)
    assert response.headers["pragma"] == "no-cache"


async def test_a_streamed_download_keeps_its_own_cache_policy(
    client: httpx.AsyncClient, alice: Account, make_item
):
    item = await make_item(alice)
    files = {"file": ("notes.txt", b"milk, eggs\n", "text/plain")}
    uploaded = await client.post(
        f"{ITEMS}/{item['id']}/attachments", files=files, headers=alice.headers
    )
    assert uploaded.status_code == 201, uploaded.text
    assert_secured(uploaded)

    response = await client.get(uploaded.headers["location"], headers=alice.headers)

    assert response.status_code == 200 and response.content == b"milk, eggs\n"
    assert_secured(response, cache_control="private, no-cache")


async def test_a_refused_preflight_carries_them(client: httpx.AsyncClient):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"}

    response = await client.options(ITEMS, headers=headers)

    assert response.status_code == 400
    assert_secured(response)


async def test_a_413_from_the_body_limit_carries_them(own_client):
    async with own_client(max_request_body_bytes=2048) as client:
        response = await client.post(ITEMS, content=b"x" * 4096)

    assert response.status_code == 413
    assert_secured(response)


async def test_the_generic_500_carries_them_too(own_client):
    async def boom(_cmd: object) -> object:
        raise RuntimeError("boom")

    def configure(container: Container) -> None:
        container.authenticate.override(providers.Object(boom))

    async with own_client(configure=configure) as client:
        response = await client.get(ME, headers={"Authorization": "Bearer x"})

    assert response.status_code == 500 and response.headers["x-request-id"]
    assert_secured(response)


async def test_the_docs_assets_keep_their_own_revalidation_policy(client: httpx.AsyncClient):
    response = await client.get("/docs-assets/swagger-ui/swagger-ui.css")

    assert response.status_code == 200
    assert_secured(response, cache_control="no-cache")


# --- HSTS ------------------------------------------------------------------------------------


async def test_hsts_is_sent_when_the_request_came_over_https_itself(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.headers.get_list("strict-transport-security") == [HSTS]


async def test_hsts_is_sent_when_a_trusted_proxy_says_the_client_used_https(own_client):
    async with own_client(peer=PROXY, trusted_proxies=["10.0.0.0/8"]) as client:
        response = await client.get("/health/live", headers={"X-Forwarded-Proto": "https"})

    assert response.headers.get_list("strict-transport-security") == [HSTS]


@pytest.mark.parametrize(
    ("peer", "forwarded_proto"),
    [
        (STRANGER, "https"),  # anyone may write the header: only a trusted proxy counts
        (PROXY, "http"),  # the proxy says the client spoke plain HTTP
        (PROXY, "https, http"),  # the right-most value is the trusted proxy's own
        (PROXY, None),
    ],
)
async def test_hsts_is_not_sent_otherwise(
    own_client, peer: tuple[str, int], forwarded_proto: str | None
):
    headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}
    async with own_client(peer=peer, trusted_proxies=["10.0.0.0/8"]) as client:
        response = await client.get("/health/live", headers=headers)

    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
