"""Kept-alive HTTP clients with TCP_NODELAY, and plain REST calls that fail loudly.

Real ``mlflow`` clients keep connections alive; without TCP_NODELAY a kept-alive request can wait
~40 ms for a delayed ACK, which would measure the kernel rather than the server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"


class Unavailable(Exception):
    """The server does not offer what the workload needs (404 / not supported): reported, not fatal."""


class ServerError(Exception):
    """The server answered a benchmark request with an unexpected error."""


def make_client(base_url: str) -> httpx.Client:
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(base_url=base_url, transport=transport, timeout=httpx.Timeout(900.0))


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


JSON_HEADERS = {"content-type": "application/json"}


def check(response: httpx.Response) -> httpx.Response:
    """Raise ``Unavailable`` for a missing endpoint or feature, ``ServerError`` for anything else."""
    if response.is_success:
        return response
    text = response.text[:300]
    if response.status_code in (404, 405, 501) and "RESOURCE_DOES_NOT_EXIST" not in text:
        raise Unavailable(f"{response.request.method} {response.request.url.path} → {response.status_code}")
    if response.status_code == 400 and "not supported" in text:
        raise Unavailable(f"{response.request.url.path}: {json.loads(text).get('message', text)}")
    raise ServerError(f"{response.request.method} {response.request.url.path} → {response.status_code}: {text}")


def post(client: httpx.Client, path: str, body: bytes) -> Any:
    """POST a pre-encoded JSON body to an MLflow REST path; returns the decoded answer."""
    return check(client.post(API + path, content=body, headers=JSON_HEADERS)).json()


def get(client: httpx.Client, path: str, params: dict[str, Any]) -> Any:
    return check(client.get(API + path, params=params)).json()


@dataclass
class Timed:
    """Wall time of a concurrent phase and the latency of every request in it (seconds)."""

    seconds: float
    latencies: list[float] = field(default_factory=list)


def run_concurrently(
    clients: Sequence[httpx.Client], tasks: Sequence[Callable[[httpx.Client], object]], *, timed: bool = True
) -> Timed:
    """Run ``tasks`` spread round-robin over one thread per client; the first error stops everything."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start_line = threading.Barrier(len(clients) + 1)

    def worker(index: int) -> None:
        own: list[float] = []
        start_line.wait()
        try:
            for task in tasks[index :: len(clients)]:
                if errors:
                    return
                began = time.perf_counter()
                task(clients[index])
                own.append(time.perf_counter() - began)
        except BaseException as error:  # surfaced to the caller below
            errors.append(error)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return Timed(elapsed, latencies if timed else [])


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), ``q`` in 0..100."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latencies_ms(call: Callable[[], object], count: int) -> tuple[float, float]:
    """(p50, p95) in ms of ``count`` sequential calls of ``call``."""
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - began)
    return percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
