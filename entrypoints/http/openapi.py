"""OpenAPI: documented responses per operation, and problem bodies under their media type."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from entrypoints.http.deps import OAUTH2_SCHEME
from entrypoints.http.errors import PROBLEM_JSON
from entrypoints.http.schemas import Problem, ValidationProblem

_PROBLEMS = {
    400: "The request cannot be carried out as sent.",
    401: "No, a malformed, expired or revoked access token (see `WWW-Authenticate`).",
    403: "The caller's role does not allow this action.",
    404: "No such resource visible to the caller (another user's answers the same).",
    409: "The change conflicts with stored data.",
    412: "`If-Match` does not match the current version; nothing was changed.",
    413: "The body is over its limit (an upload: MAX_UPLOAD_BYTES); it was not read further"
    " and nothing was kept.",
    415: "The body is not of a supported type (an upload: not multipart, or an empty file).",
    416: "The range starts past the end: `Content-Range: bytes */<size>` gives the size.",
    422: "The request is invalid: see `errors` (the rejected values are never echoed).",
    429: "Too many requests: retry after `Retry-After` seconds.",
    503: "A dependency is unavailable, or password hashing is saturated: retry after"
    " `Retry-After` seconds.",
}
_REFS = {f"#/components/schemas/{m.__name__}" for m in (Problem, ValidationProblem)}
_EXAMPLE_DETAILS = {
    400: ("invalid-reset-token", "Invalid reset token", "the reset token is not valid"),
    401: ("not-authenticated", "Not authenticated", "a Bearer access token is required"),
    403: ("forbidden", "Forbidden", "only a superuser may do this"),
    404: ("not-found", "Not found", "item not found"),
    409: ("conflict", "Conflict", "an account with this email already exists"),
    412: ("precondition-failed", "Precondition failed", "item is at version 3, not 2"),
    413: ("upload-too-large", "Upload too large", "the upload is over 10485760 bytes"),
    415: ("unsupported-media-type", "Unsupported media type", "the body must be JSON"),
    416: ("range-not-satisfiable", "Range not satisfiable", "the range starts past the end"),
    422: ("invalid-request", "Invalid request", "the request is not valid; see errors"),
    429: ("rate-limited", "Too many requests", "too many attempts; retry later"),
    503: ("unavailable", "Service unavailable", "Service unavailable"),
}
_ALWAYS_SENT = {
    401: {
        "WWW-Authenticate": 'The challenge: `Bearer`, with `error="invalid_token"` for a bad one.'
    },
    429: {"Retry-After": "Seconds until a retry may succeed."},
    503: {"Retry-After": "Seconds until a retry may succeed."},
}
_REQUIRED_ON_SUCCESS = ("Location", "ETag")

HTTP_BEARER_SCHEME = "HTTPBearer"

Responses = dict[int | str, dict[str, Any]]


def problems(*statuses: int) -> Responses:
    """Documented problem responses for these statuses (422 with the `errors` list), each
    with an example of its own."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": _PROBLEMS[status],
            "content": {"application/json": {"example": _example(status)}},
        }
        for status in statuses
    }


def _example(status: int) -> dict[str, Any]:
    slug, title, detail = _EXAMPLE_DETAILS[status]
    body: dict[str, Any] = {
        "type": f"urn:portico:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if status == 422:
        body["errors"] = [
            {"loc": ["body", "title"], "msg": "String should have at least 1 character",
             "type": "string_too_short"}
        ]  # fmt: skip
    return body


def operation_id(route: APIRoute) -> str:
    """A stable, readable operation id: `<tag>.<action>` (`items.getItem`, `auth.register`,
    `itemsV2.list`), the action being the endpoint's name without its resource noun;
    generated clients name their methods after it."""
    tag = route.tags[0] if route.tags else "default"
    group = re.sub(r"[ _-]+(\w)", lambda m: m.group(1).upper(), str(tag))
    singular = group.removeprefix("items").lower() and group
    noun = {"items": "item", "itemsV2": "item", "users": "user", "attachments": "attachment"}
    words = route.name.split("_")
    resource = noun.get(str(singular), "")
    words = [w for w in words if w not in (resource, f"{resource}s")] or words
    return f"{group}.{words[0]}{''.join(w.capitalize() for w in words[1:])}"


def header(description: str, type_: str = "string") -> dict[str, Any]:
    """A documented response header."""
    return {"description": description, "schema": {"type": type_}}


def _problem_media_types(schema: dict[str, Any]) -> None:
    """FastAPI files every documented body under the route's media type: move problems."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                json_body = content.get("application/json", {})
                if json_body.get("schema", {}).get("$ref") in _REFS:
                    content[PROBLEM_JSON] = content.pop("application/json")


def _http_bearer_beside_oauth2(schema: dict[str, Any]) -> None:
    """Document HTTP Bearer wherever the OAuth2 password scheme protects an operation."""
    oauth2: dict[str, list[str]] = {OAUTH2_SCHEME: []}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if oauth2 in operation.get("security", []):
                operation["security"].append({HTTP_BEARER_SCHEME: []})
    schemes = schema.get("components", {}).get("securitySchemes")
    if schemes is not None:
        schemes[HTTP_BEARER_SCHEME] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for ops in schema.get("paths", {}).values() for op in ops.values()]


def _declared_headers(schema: dict[str, Any]) -> None:
    """Headers clients see: `WWW-Authenticate` on every 401, `Retry-After` on 429 and 503,
    413 wherever a body is taken (every body is held to a limit); `Location` and `ETag`
    required where documented on a success, since they are always sent there."""
    for operation in _operations(schema):
        responses = operation.setdefault("responses", {})
        body_types = operation.get("requestBody", {}).get("content", {})
        if body_types:
            responses.setdefault("413", _problem_response(413))
        if "application/json" in body_types:  # another declared type is refused
            responses.setdefault("415", _problem_response(415))
        for status, response in responses.items():
            headers = response.setdefault("headers", {})
            for name, description in _ALWAYS_SENT.get(int(status), {}).items():
                headers.setdefault(name, header(description))
                headers[name]["required"] = True
            if status.startswith("2"):
                for name in _REQUIRED_ON_SUCCESS:
                    if name in headers:
                        headers[name]["required"] = True
            if not headers:
                del response["headers"]


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _PROBLEMS[status],
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": _example(status),
            }
        },
    }


def _plain_optional_parameters(schema: dict[str, Any]) -> None:
    """An optional header or query parameter is documented as its type, not `anyOf [T, null]`:
    a client sends it or not, and no client can send a null header."""
    for operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            inner = parameter.get("schema", {})
            choices = inner.get("anyOf", [])
            others = [c for c in choices if c != {"type": "null"}]
            if len(choices) == 2 and len(others) == 1:
                inner.pop("anyOf")
                inner.update(others[0])


def _links(schema: dict[str, Any]) -> None:
    """OpenAPI links from what a response names to the operations that use it, so clients
    and stateful testers can follow them: a created item to its GET, PATCH and DELETE (with
    its ETag as `If-Match`), a registered user to its GET, an attachment to its download."""
    ids = {op["operationId"]: op for op in _operations(schema) if "operationId" in op}

    def link(op_id: str, **parameters: str) -> dict[str, Any] | None:
        return {"operationId": op_id, "parameters": parameters} if op_id in ids else None

    def add(source: str, status: str, links: dict[str, dict[str, Any] | None]) -> None:
        response = ids.get(source, {}).get("responses", {}).get(status)
        present = {name: value for name, value in links.items() if value is not None}
        if response is not None and present:
            response["links"] = present

    for prefix, get, update, delete in (
        ("items", "items.getItem", "items.updateItem", "items.deleteItem"),
        ("itemsV2", "itemsV2.get", "itemsV2.update", "itemsV2.delete"),
    ):
        created, read = ("$response.body#/id", "$request.path.item_id")
        etag = "$response.header.ETag"
        for source, status, item in (
            (f"{prefix}.{'createItem' if prefix == 'items' else 'create'}", "201", created),
            (get, "200", read),
        ):
            add(source, status, {
                "get": link(get, item_id=item) if source != get else None,
                "update": link(update, item_id=item, **{"header.if-match": etag}),
                "delete": link(delete, item_id=item, **{"header.if-match": etag}),
            })  # fmt: skip
    add("auth.register", "201", {"get": link("users.read", user_id="$response.body#/id")})
    attachment = {"item_id": "$request.path.item_id", "attachment_id": "$response.body#/id"}
    add("attachments.upload", "201", {
        "download": link("attachments.download", **attachment),
        "delete": link("attachments.delete", **attachment),
    })  # fmt: skip


def _optional_bodies(schema: dict[str, Any]) -> None:
    """An optional JSON body is documented as the body's schema with `required: false`, not
    as `anyOf [Body, null]` (which no client can send, and which breaks generators)."""
    for operation in _operations(schema):
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            choices = media.get("schema", {}).get("anyOf", [])
            refs = [c for c in choices if "$ref" in c]
            if len(choices) == 2 and len(refs) == 1 and {"type": "null"} in choices:
                media["schema"] = refs[0]
                operation["requestBody"]["required"] = False


class PorticoAPI(FastAPI):
    """FastAPI, with problem responses documented as `application/problem+json`, HTTP
    Bearer documented beside the OAuth2 password flow, the headers clients see, optional
    bodies as such, and readable operation ids."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(generate_unique_id_function=operation_id, **kwargs)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            _problem_media_types(schema)
            _http_bearer_beside_oauth2(schema)
            _declared_headers(schema)
            _optional_bodies(schema)
            _plain_optional_parameters(schema)
            _links(schema)
        assert self.openapi_schema is not None
        return self.openapi_schema
