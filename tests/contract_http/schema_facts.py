"""What an OpenAPI document says about a request or a response, asked the way a client
generator or a validating proxy would ask it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

NAMED_HEADERS = (
    "Location",
    "ETag",
    "WWW-Authenticate",
    "Retry-After",
    "Allow",
    "X-Total-Count",
    "Deprecation",
    "Link",
    "Content-Disposition",
    "Content-Range",
)
"""Headers the contract names: where the server sends one, the schema must declare it."""


def operation(openapi: Mapping[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation object (empty when the document has no such operation)."""
    return dict(openapi.get("paths", {}).get(path, {}).get(method.lower(), {}))


def declared_response(operation: Mapping[str, Any], status: int) -> dict[str, Any] | None:
    """The response object for `status` (exact, `4XX`-style or `default`), if declared."""
    responses = operation.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return dict(responses[key])
    return None


def undeclared_headers(
    operation: Mapping[str, Any], status: int, sent: Iterable[str]
) -> list[str] | None:
    """The contract's headers among `sent` that the response for `status` does not declare
    (None when the status itself is not declared)."""
    response = declared_response(operation, status)
    if response is None:
        return None
    declared = {name.lower() for name in response.get("headers", {})}
    present = {name.lower() for name in sent}
    return [name for name in NAMED_HEADERS if name.lower() in present - declared]


def _valid(openapi: Mapping[str, Any], schema: Mapping[str, Any], value: object) -> bool:
    root = {**schema, "components": openapi.get("components", {})}
    return bool(Draft202012Validator(root).is_valid(value))


def allows(
    openapi: Mapping[str, Any],
    method: str,
    path: str,
    *,
    body: object = None,
    parameters: Mapping[str, str] | None = None,
) -> bool:
    """Whether the document allows a request with this JSON body and these parameter values
    (headers and query parameters, by name): what a generated client would send unchecked."""
    found = operation(openapi, method, path)
    if body is not None:
        content = found.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return False
        if not _valid(openapi, content["application/json"].get("schema", {}), body):
            return False
    declared = {p["name"].lower(): p for p in found.get("parameters", [])}
    for name, value in (parameters or {}).items():
        parameter = declared.get(name.lower())
        if parameter is None:
            return False
        readings = [value, *_numbers(value)]  # what `?limit=5` may stand for
        if not any(_valid(openapi, parameter.get("schema", {}), read) for read in readings):
            return False
    return True


def _numbers(text: str) -> list[object]:
    try:
        return [int(text)]
    except ValueError:
        try:
            return [float(text)]
        except ValueError:
            return []


def links(openapi: Mapping[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    """The OpenAPI links of a response (empty when it declares none)."""
    response = declared_response(operation(openapi, method, path), status) or {}
    return dict(response.get("links", {}))
