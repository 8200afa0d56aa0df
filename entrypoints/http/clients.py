"""Who is on the other end: the client's address, seen through trusted reverse proxies only."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

UNKNOWN = "unknown"


class ClientAddressResolver:
    """Resolves the client address from the peer and `X-Forwarded-For`.

    Only a peer in TRUSTED_PROXIES may speak for the client: then the right-most address of
    `X-Forwarded-For` that is not itself a trusted proxy is the client (anything left of it
    could have been written by the client). Built once per app: the networks are parsed here.
    """

    def __init__(self, trusted_proxies: list[str]) -> None:
        self._networks = [ip_network(entry, strict=False) for entry in trusted_proxies]

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address.strip())
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address, or `unknown` when the server was not told the peer."""
        if peer is None:
            return UNKNOWN
        if not forwarded_for or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer
