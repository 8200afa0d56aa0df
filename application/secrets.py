"""Opaque secrets handed to clients (refresh and reset tokens) and the hashes we keep instead."""

import hashlib
import secrets


def new_opaque_token() -> str:
    """Return 256 random bits, URL-safe: unguessable, so a fast hash is enough to store it."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
