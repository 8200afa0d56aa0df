"""Rules of docs/http-api.md that the OpenAPI document cannot tell schemathesis, as checks.

Importing this module registers them (`@schemathesis.check`); they then run beside the
built-in checks on every response of the schemathesis tests. A check returns None when the
rule does not apply to the response, True when it held, and raises AssertionError when the
response breaks it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

import httpx
import schemathesis
from schemathesis import Case, CheckContext, Response

from tests.contract_http.schema_facts import undeclared_headers

OAUTH_ERRORS_AT = ("/api/v1/auth/token", "/api/v1/auth/refresh")  # RFC 6749 §5.2 bodies
PROBLEM_FIELDS = {"type": str, "title": str, "status": int, "detail": str}
MARKS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
ITEM_PATH = re.compile(r"/api/v[12]/items(/|$)")

IDENTITIES: dict[str, tuple[str, dict[str, str]]] = {}
"""Per server URL: the owner's `Authorization` value and the headers of another user."""


def register_identities(url: str, owner_authorization: str, peer_headers: dict[str, str]) -> None:
    """Tell `foreign_read_is_not_found` who owns what the tests make on the server at `url`."""
    IDENTITIES[url.rstrip("/")] = (owner_authorization, peer_headers)


def _header(response: Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def _json(response: Response) -> Any:
    return _loads(response.content)


def _loads(content: bytes) -> Any:
    """The JSON document `content` holds, or None if it holds none."""
    try:
        return json.loads(content)
    except ValueError:
        return None


@schemathesis.check
def named_headers_are_declared(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every header the contract names that the server sends is declared for that response."""
    missing = undeclared_headers(
        case.operation.definition.raw, response.status_code, response.headers
    )
    if missing is None:
        return None  # an undeclared status is status_code_conformance's to report
    assert not missing, (
        f"{response.status_code} sends {', '.join(missing)}, which the schema does not declare "
        f"for this response"
    )
    return True


@schemathesis.check
def unprocessable_lists_its_errors(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every 422 says where and why: `errors: [{loc, msg, type}, ...]`, at least one."""
    if response.status_code != 422:
        return None
    body = _json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    assert isinstance(errors, list) and errors, (
        f"422 without `errors[]`: {response.content[:300]!r}"
    )
    for error in errors:
        assert isinstance(error, dict), f"an `errors` entry is not an object: {error!r}"
        assert isinstance(error.get("loc"), list) and error["loc"], f"no `loc`: {error!r}"
        assert isinstance(error.get("msg"), str) and isinstance(error.get("type"), str), error
    return True


@schemathesis.check
def errors_are_problem_details(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every error is RFC 9457 `application/problem+json` with its own status in the body,
    except the OAuth2 `400`s of the token and refresh endpoints (RFC 6749 §5.2)."""
    if response.status_code < 400:
        return None
    body = _json(response)
    if response.status_code == 400 and case.operation.path in OAUTH_ERRORS_AT:
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        return True
    content_type = (_header(response, "Content-Type") or "").split(";")[0].strip()
    assert content_type == "application/problem+json", (
        f"{response.status_code} is `{content_type}`, not a problem document"
    )
    assert isinstance(body, dict), f"the problem is not a JSON object: {response.content[:200]!r}"
    for field, kind in PROBLEM_FIELDS.items():
        assert isinstance(body.get(field), kind), f"the problem's `{field}` is {body.get(field)!r}"
    assert body["status"] == response.status_code, f"body status {body['status']}"
    return True


@schemathesis.check
def unauthorized_challenges_bearer(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A 401 carries `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token
    was sent (RFC 6750 §3)."""
    if response.status_code != 401:
        return None
    challenge = _header(response, "WWW-Authenticate") or ""
    assert challenge.startswith("Bearer"), f"401 with WWW-Authenticate {challenge!r}"
    sent = str(response.request.headers.get("Authorization", ""))
    if sent.startswith("Bearer ") and sent[7:].strip():
        assert 'error="invalid_token"' in challenge, f"a rejected token got {challenge!r}"
    return True


@schemathesis.check
def every_response_is_marked(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`X-Request-ID` (a sane token), `X-Content-Type-Options: nosniff` and
    `Referrer-Policy: no-referrer` on every response."""
    missing = [
        f"{name}: {wanted}" for name, wanted in MARKS.items() if _header(response, name) != wanted
    ]
    if not REQUEST_ID.fullmatch(_header(response, "X-Request-ID") or ""):
        missing.append("X-Request-ID")
    assert not missing, f"missing {', '.join(missing)}"
    return True


@schemathesis.check
def item_etag_names_its_version(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """An item answered by GET, POST or PATCH carries the strong `ETag: "<id>.<version>"`."""
    content_type = (_header(response, "Content-Type") or "").split(";")[0].strip()
    if response.status_code not in (200, 201) or content_type != "application/json":
        return None
    if not ITEM_PATH.match(case.operation.path):
        return None
    item = _json(response)
    if not isinstance(item, dict) or not {"id", "version", "owner_id"} <= set(item):
        return None  # a collection
    etag = _header(response, "ETag")
    assert etag == f'"{item["id"]}.{item["version"]}"', f"item {item['id']} has ETag {etag!r}"
    return True


@schemathesis.check
def created_resource_is_at_its_location(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A 201 that names a `Location` of its caller's resource: GET there answers it (200, the
    same id)."""
    location = _header(response, "Location")
    authorization = response.request.headers.get("Authorization")
    if (
        response.status_code != 201
        or not location
        or not case.operation.definition.raw.get("security")
    ):
        return None
    url = urljoin(str(response.request.url), location)
    got = httpx.get(url, headers={"Authorization": str(authorization)}, timeout=10.0)
    assert got.status_code == 200, f"GET {location} after 201: {got.status_code} {got.text[:200]}"
    created, there = _json(response), _loads(got.content)
    if isinstance(created, dict) and "id" in created and isinstance(there, dict):
        assert there.get("id") == created["id"], f"GET {location} is another resource"
    return True


@schemathesis.check
def foreign_read_is_not_found(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """What the owner reads by id (GET `.../{id}` → 2xx), another user is told is not there:
    404, exactly as for a missing one (no existence leak)."""
    url = str(response.request.url)
    base = next((known for known in IDENTITIES if url.startswith(known)), None)
    if case.method.upper() != "GET" or not case.path_parameters or base is None:
        return None
    owner, peer = IDENTITIES[base]
    if not 200 <= response.status_code < 300 or response.request.headers.get("Authorization") != (
        owner
    ):
        return None
    got = httpx.get(url, headers=peer, timeout=10.0)
    assert got.status_code == 404, f"another user's GET {url}: {got.status_code}"
    return True
