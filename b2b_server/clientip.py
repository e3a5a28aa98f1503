"""Who is calling: the client address behind our own proxies, and allowlist matching.

`X-Forwarded-For` is believed only when the direct peer is one of our trusted proxies; then
the rightmost address that is not a trusted proxy is the client (everything left of it was
written by parties we do not trust). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as
IPv4. Anything malformed yields no address, and no address is never allowed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_FORWARDED_LENGTH = 2048


def parse_ip(text: str) -> IPAddress | None:
    """One address as a proxy or socket reports it, or None when it is not exactly an address."""
    text = text.strip()
    if not text or len(text) > 45 or "%" in text:  # zone ids name a local interface, never a client
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...], setting: str) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{setting}: {entry!r} is not an IP address or CIDR.") from None
        if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None \
                and network.prefixlen >= 96:
            network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
        networks.append(network)
    return tuple(networks)


def networks(setting: str) -> tuple[IPNetwork, ...]:
    """The networks listed in a setting such as B2B_ALLOWED_IPS, parsed once per value."""
    return _networks(tuple(getattr(settings, setting)), setting)


def in_networks(address: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


_RESOLVED = "b2b.client_ip"  # a request's answer, kept in its environ: the allowlist and the log both ask


def client_ip(meta: dict) -> IPAddress | None:
    """The client address of a request (its WSGI environ), or None when it cannot be trusted."""
    try:
        return meta[_RESOLVED]
    except KeyError:
        address = meta[_RESOLVED] = _client_ip(meta)
        return address


def _client_ip(meta: dict) -> IPAddress | None:
    peer = parse_ip(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    proxies = networks("B2B_TRUSTED_PROXIES")
    if not proxies or not in_networks(peer, proxies):
        return peer
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if forwarded is None:
        return peer
    if len(forwarded) > _MAX_FORWARDED_LENGTH:
        return None
    hops = [parse_ip(hop) for hop in forwarded.split(",")]
    if any(hop is None for hop in hops):
        return None
    for hop in reversed(hops):
        if not in_networks(hop, proxies):
            return hop
    # Every hop is one of our proxies: the leftmost is the furthest we can see.
    return hops[0]


def client_ip_text(meta: dict) -> str:
    """The client address as text, for logs and the gateway's `ip`: the resolved client, or the
    direct peer when the forwarded chain cannot be trusted."""
    address = client_ip(meta)
    return str(address) if address is not None else meta.get("REMOTE_ADDR", "")


def client_allowed(meta: dict) -> bool:
    """The balance API's "IP allowlist" rule: the caller's address is on B2B_ALLOWED_IPS."""
    address = client_ip(meta)
    return address is not None and in_networks(address, networks("B2B_ALLOWED_IPS"))
