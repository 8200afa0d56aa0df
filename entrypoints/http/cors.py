"""CORS (Starlette's middleware), with a refused preflight answered as a problem like any error."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from entrypoints.http.errors import problem

_DISALLOWED = "Disallowed CORS "  # how Starlette's refusal text starts: then what was refused


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORSMiddleware, except that a preflight it refuses (origin, method,
    headers) gets a 400 `application/problem+json` body (RFC 9457) instead of `text/plain`;
    the preflight's headers (`Vary` and the rest) stay as Starlette sets them."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight's answer: Starlette's when allowed, a 400 problem when refused."""
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix(_DISALLOWED)
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        detail = f"the CORS preflight is not allowed: {refused}"
        return problem(400, detail, headers=headers)
