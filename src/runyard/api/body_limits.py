"""Request bodies measured while they arrive: a size limit and a slow-body deadline, as ASGI middleware.

Routes read bodies themselves (``request.body()``, ``request.stream()``), so a limit checked after
reading lets one request buffer gigabytes first. This middleware counts the bytes as the app pulls
them from ``receive`` and answers 413 the moment the limit is passed; a ``Content-Length`` over the
limit is answered before anything is read. Which limit applies depends on the route: the artifact
proxy's uploads stream to the store and have their own (default: none), recipe pushes are spooled to
disk and limited by the bundle size, every other body is limited by ``max_request_body_bytes``.

A body must also arrive in time: ``request_body_timeout_seconds`` from the first read, extended by
one second for every ``request_body_min_rate`` bytes received (the model of Apache's mod_reqtimeout),
so a large upload on a slow link is fine while a client trickling a byte every few seconds is answered
408 and disconnected instead of holding a connection for ever.

Either answer carries ``Connection: close``: the rest of the body is never read.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.settings import ServerSettings

# Uploads through the artifact proxy (files and multipart parts), streamed to the store.
_ARTIFACT_UPLOAD = re.compile(r"^(/ajax-api|/api)/2\.0/mlflow-artifacts/(artifacts|mpu/part)/")
_RECIPE_PUSH = re.compile(r"^/api/v1/recipes/?$")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The limits in force (from ``ServerSettings``); ``None`` means unlimited."""

    default_bytes: int
    artifact_bytes: int | None
    recipe_bytes: int
    timeout_seconds: float
    min_rate: int

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> BodyLimits:
        return cls(
            default_bytes=settings.max_request_body_bytes,
            artifact_bytes=settings.max_artifact_upload_bytes,
            recipe_bytes=settings.recipe_bundle_max_bytes,
            timeout_seconds=settings.request_body_timeout_seconds,
            min_rate=settings.request_body_min_rate,
        )

    def for_request(self, method: str, path: str) -> tuple[int | None, str]:
        """The byte limit for a request and the setting that sets it (named in the 413)."""
        if method == "PUT" and _ARTIFACT_UPLOAD.match(path):
            return self.artifact_bytes, "max_artifact_upload_bytes"
        if method == "POST" and _RECIPE_PUSH.match(path):
            return self.recipe_bytes, "recipe_bundle_max_bytes"
        return self.default_bytes, "max_request_body_bytes"


class _Stop(Exception):
    """Raised from ``receive`` to end the app's handling once the middleware has answered."""


def _error(status: int, error_code: str, message: str) -> tuple[Message, Message]:
    body = orjson.dumps({"error_code": error_code, "message": message})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


def _too_large(limit: int, setting: str, received: int | None = None) -> tuple[Message, Message]:
    size = f" ({received} bytes declared)" if received is not None else ""
    return _error(
        413,
        "INVALID_PARAMETER_VALUE",
        f"Request body is larger than {limit} bytes{size}: the limit is set by {setting}.",
    )


class BodyLimitMiddleware:
    """Enforce ``BodyLimits`` on every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limits.for_request(scope["method"], scope["path"])
        declared, chunked = _framing(scope)
        if declared is not None and limit is not None and declared > limit:
            for message in _too_large(limit, setting, declared):
                await send(message)
            return
        if not declared and not chunked:
            await self.app(scope, receive, send)  # no body to measure or wait for
            return
        await _Guarded(self.app, self.limits, limit, setting).run(scope, receive, send)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (if any) and whether the body is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


class _Guarded:
    """One request: counts what ``receive`` hands the app, answers for it once a limit is passed."""

    def __init__(self, app: ASGIApp, limits: BodyLimits, limit: int | None, setting: str) -> None:
        self.app = app
        self.limits = limits
        self.limit = limit
        self.setting = setting
        self.received = 0
        self.body_done = False
        self.deadline: float | None = None
        self.response_started = False
        self.answered = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def guarded_receive() -> Message:
            return await self._receive(receive, send)

        async def guarded_send(message: Message) -> None:
            if self.answered:
                return  # the app's own answer after ours: the client has had its reply
            if message["type"] == "http.response.start":
                self.response_started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _Stop:
            pass
        except Exception:
            if not self.answered:
                raise
            # The app turned our stop into an error of its own; the client already has its answer.

    async def _receive(self, receive: Receive, send: Send) -> Message:
        if self.answered:
            raise _Stop
        if self.body_done:
            # Past the body, ``receive`` only waits for the disconnect (streaming responses): no deadline.
            return await receive()
        if self.deadline is None:
            self.deadline = asyncio.get_running_loop().time() + self.limits.timeout_seconds
        deadline = self.deadline
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            await self._answer(
                send,
                _error(
                    408,
                    "INVALID_PARAMETER_VALUE",
                    f"The request body did not arrive in time (request_body_timeout_seconds="
                    f"{self.limits.timeout_seconds:g}, then at least {self.limits.min_rate} bytes per second).",
                ),
            )
            raise _Stop from None
        if message["type"] != "http.request":
            self.body_done = True
            return message
        chunk = len(message.get("body", b""))
        self.received += chunk
        self.deadline = deadline + chunk / self.limits.min_rate
        if not message.get("more_body", False):
            self.body_done = True
        if self.limit is not None and self.received > self.limit:
            await self._answer(send, _too_large(self.limit, self.setting))
            raise _Stop
        return message

    async def _answer(self, send: Send, messages: tuple[Message, Message]) -> None:
        self.answered = True
        if self.response_started:
            return  # too late to answer; stopping the app still ends the request
        for message in messages:
            await send(message)
