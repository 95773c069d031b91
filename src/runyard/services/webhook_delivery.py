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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from runyard.domain.webhooks import Event, Webhook
from runyard.services import outbound

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
            pinned = outbound.pin(url, "webhook_allow_private_urls")
            url = pinned.url
            headers.update(pinned.headers)
            extensions.update(pinned.extensions)
        with httpx.Client(timeout=timeout) as client:
            response = client.post(url, content=body, headers=headers, extensions=extensions)
    except (httpx.HTTPError, OSError, ValueError) as error:
        return Sent(None, "", f"{type(error).__name__}: {error}")
    text = response.text[:MAX_RESPONSE_BODY]
    if response.status_code >= 400:
        return Sent(response.status_code, text, f"the receiver answered {response.status_code}")
    return Sent(response.status_code, text, None)
