"""Paths and request bodies of the auth endpoints, as the HTTP tests send them."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery"
TOKEN = "/api/v1/auth/token"
REGISTER = "/api/v1/auth/register"


async def register(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    """POST the JSON body to the registration endpoint."""
    return await client.post(REGISTER, json=body)


def grant(email: str, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    """The form of a password grant."""
    return {"grant_type": "password", "username": email, "password": password, **extra}
