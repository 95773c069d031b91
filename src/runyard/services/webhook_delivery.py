"""Send one webhook request as MLflow does: its JSON envelope, delivery id, timestamp and HMAC signature.

The signature is ``v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`` in
``X-MLflow-Signature`` (mlflow/webhooks/delivery.py), so receivers written for MLflow verify runyard's
deliveries unchanged. Unless private addresses are allowed, the host is resolved here, every address
must be public, and the request goes to that checked address (no second lookup an attacker's DNS could
answer differently).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from runyard.domain.webhooks import Event, Webhook

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
MAX_RESPONSE_BODY = 4096


@dataclass(frozen=True, slots=True)
class Sent:
    status: int | None
    body: str
    error: str | None

    @property
    def success(self) -> bool:
        return self.error is None


def signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def envelope(event: Event, data: Any) -> str:
    return orjson.dumps(
        {
            "entity": event.entity.value,
            "action": event.action.value,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": data,
        }
    ).decode()


def _checked_address(host: str, port: int) -> str:
    """The first address of ``host``; every address must be public (else ValueError)."""
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise ValueError(f"{host} resolves to {ip}, which is not a public address (webhook_allow_private_urls)")
    return sorted(addresses)[0]


def send(webhook: Webhook, event: Event, data: Any, *, delivery_id: str, timeout: float, allow_private: bool) -> Sent:
    body = envelope(event, data)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", DELIVERY_ID_HEADER: delivery_id, TIMESTAMP_HEADER: timestamp}
    if webhook.secret:
        headers[SIGNATURE_HEADER] = signature(webhook.secret, delivery_id, timestamp, body)
    url = webhook.url
    extensions: dict[str, Any] = {}
    try:
        if not allow_private:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = _checked_address(host, port)
            literal = f"[{address}]" if ":" in address else address
            netloc = f"{literal}:{parts.port}" if parts.port else literal
            url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
            headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
            extensions["sni_hostname"] = host
        with httpx.Client(timeout=timeout) as client:
            response = client.post(url, content=body, headers=headers, extensions=extensions)
    except (httpx.HTTPError, OSError, ValueError) as error:
        return Sent(None, "", f"{type(error).__name__}: {error}")
    text = response.text[:MAX_RESPONSE_BODY]
    if response.status_code >= 400:
        return Sent(response.status_code, text, f"the receiver answered {response.status_code}")
    return Sent(response.status_code, text, None)
