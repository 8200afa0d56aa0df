"""A Python client generated from the live schema (openapi-python-client) runs a whole session
against a real `portico serve`: what a client author gets from the published schema works.

The client is generated once per module into a temporary package (`--meta none`, no post
hooks) and imported from there. Its operations are found by method and path, not by the
module names openapi-python-client derives from operation ids, so renaming an operation does
not break the test; every body is built with the generated model's `from_dict`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.api import PASSWORD
from tests.contract_http.live import LiveApi, running_live_api, unique_email

PACKAGE = "portico_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with running_live_api("sqlite", tmp_path_factory.mktemp("client-server"), None) as api:
        yield api


@pytest.fixture(scope="module")
def generation(live_api: LiveApi, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Generates the client from the live schema; returns what the generator printed."""
    directory = tmp_path_factory.mktemp("client")
    (directory / "schema.json").write_text(json.dumps(live_api.openapi()))
    (directory / "config.yaml").write_text("post_hooks: []\n")
    command = [str(GENERATOR), "generate", "--path", str(directory / "schema.json")]
    command += ["--output-path", str(directory / PACKAGE), "--meta", "none"]
    finished = subprocess.run(
        [*command, "--config", str(directory / "config.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    sys.path.insert(0, str(directory))
    return finished.stdout + finished.stderr


@pytest.fixture(scope="module")
def package(generation: str) -> Iterator[ModuleType]:
    """The generated client package, imported (and forgotten after the module)."""
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def endpoint(package: ModuleType, method: str, path: str) -> ModuleType:
    """The generated module of the operation `method path`."""
    api = Path(package.__file__).parent / "api"  # type: ignore[arg-type]
    for source in sorted(api.rglob("*.py")):
        text = source.read_text()
        if f'"method": "{method.lower()}"' in text and f'"url": "{path}"' in text:
            relative = source.relative_to(api.parent).with_suffix("")
            return importlib.import_module(f"{PACKAGE}.{'.'.join(relative.parts)}")
    raise AssertionError(f"the generated client has no {method} {path}")


def body(module: ModuleType, data: dict[str, Any]) -> Any:
    """The operation's body model, built from `data` with the generated `from_dict`."""
    annotation = inspect.signature(module.sync_detailed).parameters["body"].annotation
    candidates = getattr(annotation, "__args__", (annotation,))
    model = next(kind for kind in candidates if hasattr(kind, "from_dict"))
    return model.from_dict(data)


class Api:
    """The generated client's operations, called by method and path."""

    def __init__(self, package: ModuleType, url: str, token: str | None = None) -> None:
        self.package = package
        if token is None:
            self.client = package.Client(base_url=url, raise_on_unexpected_status=True)
        else:
            self.client = package.AuthenticatedClient(
                base_url=url, token=token, raise_on_unexpected_status=True
            )

    def __call__(self, method: str, path: str, json: Any = None, **arguments: Any) -> Any:
        module = endpoint(self.package, method, path)
        if json is not None:
            arguments["body"] = body(module, json)
        return module.sync_detailed(client=self.client, **arguments)


def test_generates_the_client_without_warnings(generation: str) -> None:
    assert "Warning" not in generation, generation


def test_runs_a_whole_session_through_the_generated_client(
    package: ModuleType, live_api: LiveApi
) -> None:
    public, email = Api(package, live_api.url), unique_email("generated")
    registered = public("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.content
    assert registered.parsed.email == email
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    tokens = public("POST", "/api/v1/auth/token", form)
    assert tokens.status_code == 200, tokens.content
    assert tokens.parsed.token_type == "bearer"
    api = Api(package, live_api.url, tokens.parsed.access_token)

    item_id = _items_round_trip(api)
    _pages_through_v2(api)

    assert api("GET", "/api/v1/items/{item_id}", item_id=item_id).status_code == 404
    assert api("POST", "/api/v1/auth/logout").status_code == 204
    assert api("GET", "/api/v1/users/me").status_code == 401


def _items_round_trip(api: Api) -> Any:
    """Create, read, change (If-Match), refuse a stale change, delete; returns the id."""
    created = api("POST", "/api/v1/items", {"title": "Buy milk"})
    assert created.status_code == 201, created.content
    item_id, first = created.parsed.id, created.headers["ETag"]
    read = api("GET", "/api/v1/items/{item_id}", item_id=item_id)
    assert (read.status_code, read.parsed.title) == (200, "Buy milk")
    assert read.headers["ETag"] == first == f'"{item_id}.1"'

    changed = api(
        "PATCH", "/api/v1/items/{item_id}", {"title": "Tea"}, item_id=item_id, if_match=first
    )
    assert (changed.status_code, changed.parsed.version) == (200, 2), changed.content
    stale = api(
        "PATCH", "/api/v1/items/{item_id}", {"title": "Coffee"}, item_id=item_id, if_match=first
    )
    assert stale.status_code == 412, stale.content
    assert stale.parsed.status == 412

    current = changed.headers["ETag"]
    deleted = api("DELETE", "/api/v1/items/{item_id}", item_id=item_id, if_match=current)
    assert deleted.status_code == 204, deleted.content
    return item_id


def _pages_through_v2(api: Api) -> None:
    """Three new items come back in two keyset pages of v2, oldest first, then no cursor."""
    made = [api("POST", "/api/v2/items", {"title": f"Item {n}"}).parsed.id for n in range(3)]
    first = api("GET", "/api/v2/items", limit=2)
    assert first.status_code == 200, first.content
    assert isinstance(first.parsed.next_cursor, str)
    second = api("GET", "/api/v2/items", limit=2, cursor=first.parsed.next_cursor)
    assert second.status_code == 200, second.content
    assert second.parsed.next_cursor is None
    seen = [item.id for page in (first, second) for item in page.parsed.data]
    assert seen == made
