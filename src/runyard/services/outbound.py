"""Requests runyard sends to URLs users configure (webhooks, gateway providers): refuse private addresses.

The host is resolved once and every address must be public; the request then goes to that address
(with the original ``Host`` and TLS server name), so a second resolution cannot point it elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def checked_address(host: str, port: int, setting: str) -> str:
    """The first address of ``host``; every address must be public (else ValueError naming ``setting``)."""
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise ValueError(f"{host} resolves to {ip}, which is not a public address ({setting})")
    return sorted(addresses)[0]


@dataclass(slots=True)
class Pinned:
    """A URL rewritten to the address it was checked at, with the headers and extensions that keep TLS right."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def pin(url: str, setting: str) -> Pinned:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = checked_address(host, port, setting)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Pinned(
        url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        headers={"Host": parts.netloc.rsplit("@", 1)[-1]},
        extensions={"sni_hostname": host},
    )
