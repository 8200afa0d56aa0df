"""Which browser pages may open a WebSocket: those of the API's own origin, and the origins
CORS_ORIGINS lists (a handshake is no CORS request, so the check is the service's own)."""

from __future__ import annotations

from collections.abc import Collection

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def origin_allowed(
    origin: str | None, *, host: str | None, secure: bool, listed: Collection[str]
) -> bool:
    """Whether a handshake with this `Origin` may go on: none (not a browser), one `listed`
    (or `*` listed), or the API's own: the scheme (`https` when `secure`) and `Host` the
    handshake was sent to, a default port written or not."""
    if origin is None or origin in listed or "*" in listed:
        return True
    own = f"{'https' if secure else 'http'}://{host}"
    return bool(host) and _normal(origin) == _normal(own)


def _normal(origin: str) -> str:
    """An origin in lower case, without its scheme's default port."""
    scheme, separator, authority = origin.lower().partition("://")
    default = _DEFAULT_PORTS.get(scheme)
    return scheme + separator + (authority.removesuffix(default) if default else authority)
