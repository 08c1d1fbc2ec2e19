"""Outbound URL policy: a webhook URL may not reach loopback, private, link-local,
multicast or reserved addresses (SSRF) unless its host or network is allowed by
configuration. Checked when a channel is saved and again, on the resolved
addresses, before every delivery (DNS can change in between)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from backend.config import NotifySettings


class BlockedDestination(ValueError):
    pass


def _networks(settings: NotifySettings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.allowed_networks]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, settings: NotifySettings, *, resolve: bool = True) -> None:
    """Raises ``BlockedDestination`` saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise BlockedDestination("only http and https URLs are allowed")
    host = parts.hostname
    if not host:
        raise BlockedDestination("the URL has no host")
    if parts.username or parts.password:
        raise BlockedDestination("credentials in the URL are not allowed")
    if host.lower() in {h.lower() for h in settings.allowed_hosts}:
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror as error:
            raise BlockedDestination(f"cannot resolve '{host}': {error}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    allowed = _networks(settings)
    for address in addresses:
        if _is_public(address) or any(address in network for network in allowed):
            continue
        raise BlockedDestination(
            f"'{host}' resolves to {address}, an internal address; allow it with "
            "VERITY_NOTIFY__ALLOWED_HOSTS or VERITY_NOTIFY__ALLOWED_NETWORKS"
        )
