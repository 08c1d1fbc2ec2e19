"""Outbound URL policy against SSRF: a webhook may reach only globally routable
addresses (``ipaddress``'s ``is_global``, less multicast, reserved and IPv6
site-local), with any IPv4 address embedded in an IPv6 one (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64) held to the same rule, unless its host or
network is allowed by configuration.

Checked when a channel is saved, and again before every delivery on the addresses
the name resolves to then. The delivery connects to the address that was checked
(``Destination.pinned_url``), never resolving the name a second time, so DNS
rebinding between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from backend.config import NotifySettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class BlockedDestination(ValueError):
    pass


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by the transition schemes that
    route to them."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: Address) -> bool:
    if not address.is_global or address.is_multicast or address.is_reserved:
        return False
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    ):
        return False
    return all(is_public(inner) for inner in embedded_ipv4(address))


@dataclass(frozen=True)
class Destination:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    address: str | None  # None: an allow-listed host name, resolved at connection
    extensions: dict[str, str] = field(default_factory=dict)

    @property
    def pinned_url(self) -> str:
        if self.address is None:
            return self.url
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rsplit("@", 1)[-1]


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(
    url: str, settings: NotifySettings, *, resolver: Resolver | None = None
) -> Destination:
    """The destination to connect to; ``BlockedDestination`` saying why not. Host
    names are resolved with ``resolver`` (the system's by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise BlockedDestination("only http and https URLs are allowed")
    host = parts.hostname
    if not host:
        raise BlockedDestination("the URL has no host")
    if parts.username or parts.password:
        raise BlockedDestination("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedDestination("the URL's port is not a number from 0 to 65535") from None
    if host.lower() in {h.lower() for h in settings.allowed_hosts}:
        return Destination(url, host, None)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        lookup = resolver or resolve
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in lookup(host, port)]
        except (OSError, ValueError) as error:
            raise BlockedDestination(f"cannot resolve '{host}': {error}") from None
        if not addresses:
            raise BlockedDestination(f"'{host}' resolves to no address")
    allowed = [ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks]
    for address in addresses:
        if is_public(address) or any(address in network for network in allowed):
            continue
        raise BlockedDestination(
            f"'{host}' resolves to {address}, an internal address; allow it with "
            "VERITY_NOTIFY__ALLOWED_HOSTS or VERITY_NOTIFY__ALLOWED_NETWORKS"
        )
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Destination(url, host, str(addresses[0]), extensions)
