"""Which peers are trusted proxies, and the client address behind them."""
from __future__ import annotations

import functools
import ipaddress
from typing import Iterable

MAX_FORWARDED = 2048  # longer X-Forwarded-For values are not read (the peer's address is used)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """An IP address (IPv4-mapped IPv6 as IPv4; a zone index dropped), or None."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The CIDRs of ``auth.trusted_proxies``: only their identity header and X-Forwarded-For are believed."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
        self.trusts = functools.lru_cache(maxsize=1024)(self._trusts)  # peers repeat: one parse each

    def __bool__(self) -> bool:
        return bool(self.networks)

    def _trusts(self, peer: str) -> bool:
        address = parse_address(peer) if peer else None
        return address is not None and any(address in network for network in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer's, or from a trusted peer the last X-Forwarded-For entry
        that is not itself a trusted proxy (the entries further left are the client's to write)."""
        if not forwarded_for or len(forwarded_for) > MAX_FORWARDED or not self.networks or not self.trusts(peer):
            return peer
        entries = [entry.strip() for entry in forwarded_for.split(",")]
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:
                return peer  # garbage in the chain: nothing of it is believed
            if not any(address in network for network in self.networks):
                return str(address)
        first = parse_address(entries[0])
        return str(first) if first is not None else peer
