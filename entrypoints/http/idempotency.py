"""The `Idempotency-Key` request header (IETF httpapi draft): parsed, fingerprinted, documented.

The value is a Structured Field sf-string (`"8e03978e-…"`, RFC 9651 §3.3.3); a bare token is
accepted too. The key itself is 1 to 255 visible ASCII characters. The request's fingerprint
covers its method, path and body (JSON canonicalised: key order and whitespace do not count).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError

from application.idempotency import KEY_LIFETIME, IdempotencyKey, RequestFingerprints
from entrypoints.http.errors import IDEMPOTENCY_KEY_LOC
from entrypoints.http.openapi import Responses
from entrypoints.http.schemas import ValidationProblem

_CHAR = r"[\x21\x23-\x5b\x5d-\x7e]"  # visible ASCII but `"` and `\`, which must be escaped
PATTERN = rf'^(?:"(?:{_CHAR}|\\["\\]){{1,255}}"|{_CHAR}{{1,255}})$'
_ESCAPE = re.compile(r"\\(.)")
_HOURS = int(KEY_LIFETIME.total_seconds() // 3600)

DESCRIPTION = f"""Makes this request safe to retry (IETF draft "The Idempotency-Key HTTP Header
Field"): an sf-string such as `"8e03978e-40d5-43e8-bc93-6894a57f9324"` (a bare value is
accepted too) holding 1 to 255 visible ASCII characters; a fresh random UUID per request is
best. Sending the same key again within {_HOURS} hours with the same request (method, path and
JSON body) returns the first answer again, the same status, body, `Location` and `ETag`,
without creating anything; with a different request it is a 422
(`urn:portico:problem:idempotency-key-reused`). A signed-in caller's keys are their own
(another user's identical key is unrelated); registration keys stand alone. A request that
failed is not remembered and may be retried with the same key."""

REUSED_OR_MALFORMED: Responses = {
    422: {
        "model": ValidationProblem,
        "description": "The request is invalid: see `errors` (the rejected values are never "
        "echoed), also when `Idempotency-Key` is malformed or was used for a different request "
        "(`urn:portico:problem:idempotency-key-reused`).",
    }
}


async def idempotency_key(
    request: Request,
    value: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=PATTERN,
            description=DESCRIPTION,
            examples=['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
        ),
    ] = None,
) -> IdempotencyKey | None:
    """The request's key and fingerprint, or None when it carries no `Idempotency-Key`."""
    if value is None:
        return None
    if len(request.headers.getlist("idempotency-key")) > 1:
        raise RequestValidationError([_error("send one Idempotency-Key", "multiple_values")])
    fingerprints: RequestFingerprints = request.app.state.container.request_fingerprints()
    operation = f"{request.method} {request.url.path}"
    fingerprint = fingerprints(operation, _canonical(await request.body()))
    return IdempotencyKey(_unquoted(value), fingerprint)


IdempotencyKeyHeader = Annotated[IdempotencyKey | None, Depends(idempotency_key)]


def _unquoted(value: str) -> str:
    if value.startswith('"'):
        return _ESCAPE.sub(r"\1", value[1:-1])
    return value


def _canonical(body: bytes) -> bytes:
    """The body with its JSON's key order and whitespace normalised (as is, if not JSON)."""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body


def _error(msg: str, kind: str) -> dict[str, Any]:
    return {"loc": IDEMPOTENCY_KEY_LOC, "msg": msg, "type": kind}
