"""Send one gateway request to a provider over the OpenAI-compatible API, with the endpoint's credentials.

The caller's own headers never travel on (its runyard token stays here); the provider sees only the
JSON body, with ``model`` set to the model definition's model, and the secret's ``api_key`` as a bearer
token. A provider that fails (no answer, 429, 5xx) hands the request to the endpoint's next model,
when it has FALLBACK models. Whatever comes back has the key scrubbed out, in case a provider echoes
it. Unless ``gateway_allow_private_urls`` is set, the provider's host must resolve to public addresses
only, and the request goes to the address that was checked.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import orjson

from runyard.domain.gateway import Route
from runyard.services import outbound

SETTING = "gateway_allow_private_urls"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Answer:
    """What goes back to the caller: a status and JSON bytes, or a stream of server-sent events."""

    status: int
    content: bytes
    media_type: str = "application/json"
    stream: AsyncIterator[bytes] | None = None


def _scrub(content: bytes, key: str | None) -> bytes:
    if key and len(key) >= 4 and key.encode() in content:
        return content.replace(key.encode(), b"***")
    return content


def _error(status: int, detail: Any) -> Answer:
    return Answer(status, orjson.dumps({"detail": detail}))


def _provider_error(response: httpx.Response, key: str | None) -> Answer:
    content = _scrub(response.content, key)
    try:
        detail: Any = orjson.loads(content)
    except orjson.JSONDecodeError:
        detail = content.decode(errors="replace")[:4000]
    return _error(response.status_code, detail)


def _request(
    route: Route, path: str, body: dict[str, Any], *, allow_private: bool
) -> tuple[str, dict[str, str], dict[str, Any], bytes]:
    url = f"{route.api_base.rstrip('/')}/{path}"
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    extensions: dict[str, Any] = {}
    if not allow_private:
        pinned = outbound.pin(url, SETTING)
        url = pinned.url
        headers.update(pinned.headers)
        extensions.update(pinned.extensions)
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    payload = orjson.dumps({**body, "model": route.model.model_name})
    return url, headers, extensions, payload


async def send(routes: list[Route], path: str, body: dict[str, Any], *, timeout: float, allow_private: bool) -> Answer:
    """Send ``body`` to ``path`` (``chat/completions``, ``embeddings``) of the first model that answers."""
    failed = _error(502, "the endpoint has no model to send the request to")
    streaming = bool(body.get("stream"))
    for route in routes:
        key = route.api_key
        try:
            # Resolving the provider's host (the address check) blocks: off the event loop.
            url, headers, extensions, payload = await anyio.to_thread.run_sync(
                functools.partial(_request, route, path, body, allow_private=allow_private)
            )
        except (ValueError, OSError) as error:
            failed = _error(400, f"the provider URL of model '{route.model.name}' is refused: {error}")
            continue
        client = httpx.AsyncClient(timeout=timeout)
        try:
            request = client.build_request("POST", url, content=payload, headers=headers, extensions=extensions)
            response = await client.send(request, stream=streaming)
        except httpx.TimeoutException:
            await client.aclose()
            failed = _error(504, f"the provider of model '{route.model.name}' did not answer within {timeout:g}s")
            continue
        except (httpx.HTTPError, OSError) as error:
            await client.aclose()
            failed = _error(
                502, f"the provider of model '{route.model.name}' could not be reached: {type(error).__name__}"
            )
            continue
        if response.status_code >= 400:
            await response.aread()
            await client.aclose()
            failed = _provider_error(response, key)
            if response.status_code in _RETRY_STATUSES:
                continue
            return failed
        if streaming:
            return Answer(response.status_code, b"", "text/event-stream", _relay(client, response, key))
        await client.aclose()
        media_type = response.headers.get("content-type", "application/json").split(";")[0]
        return Answer(response.status_code, _scrub(response.content, key), media_type)
    return failed


async def _relay(client: httpx.AsyncClient, response: httpx.Response, key: str | None) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield _scrub(chunk, key)
    finally:
        await response.aclose()
        await client.aclose()
