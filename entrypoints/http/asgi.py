"""The ASGI factory for `uvicorn --factory entrypoints.http.asgi:create`."""

from __future__ import annotations

from fastapi import FastAPI

from entrypoints.container import Container
from entrypoints.http.app import create_app


def create() -> FastAPI:
    """A fresh container (settings from the environment) and the app over it."""
    return create_app(Container())
