"""OpenAPI: documented responses per operation, and problem bodies under their media type."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

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

HTTP_BEARER_SCHEME = "HTTPBearer"

Responses = dict[int | str, dict[str, Any]]


def problems(*statuses: int) -> Responses:
    """Documented problem responses for these statuses (422 with the `errors` list)."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": _PROBLEMS[status],
        }
        for status in statuses
    }


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


class PorticoAPI(FastAPI):
    """FastAPI, with problem responses documented as `application/problem+json` and HTTP
    Bearer documented beside the OAuth2 password flow."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            _problem_media_types(schema)
            _http_bearer_beside_oauth2(schema)
        assert self.openapi_schema is not None
        return self.openapi_schema
