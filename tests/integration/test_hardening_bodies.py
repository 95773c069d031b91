"""Request bodies are measured while they arrive: size limits answered early, slow bodies cut off.

Raw sockets send the bodies so the test controls framing and pace exactly (a declared length that
is never sent, chunked bodies with no length, one byte every second). Memory is the live server's
peak RSS growth, measured with psutil.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.memory import peak_rss_growth
from tests.support.servers import LiveServer

MB = 1024 * 1024
JSON_ROUTE = "/api/2.0/mlflow/runs/log-batch"


@pytest.fixture(scope="module")
def limited(server_pool) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A server with a short body deadline, so slow-body tests take seconds."""
    yield server_pool.start_new(
        "sqlite",
        extra_env={
            "RUNYARD_REQUEST_BODY_TIMEOUT_SECONDS": "3",
            "RUNYARD_REQUEST_BODY_MIN_RATE": "1024",
            "RUNYARD_MAX_ARTIFACT_UPLOAD_BYTES": str(2 * MB),
        },
    )


@pytest.fixture(params=("sqlite",))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def _read_response(sock: socket.socket) -> tuple[int, bytes, bool]:
    """(status, whole response, whether the server closed the connection afterwards)."""
    data = b""
    closed = False
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            None,
        )
        if length is not None and len(body) >= length:
            # Wait briefly for the close the server announces with "Connection: close".
            sock.settimeout(5)
            try:
                closed = sock.recv(1) == b""
            except (ConnectionResetError, TimeoutError):
                closed = True
            break
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data, closed


def _send_quietly(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def test_declared_oversized_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    # The reported attack: one 512 MB JSON body raised the server from 197 MB to 1.2 GB before its 400.
    assert server.process is not None
    with peak_rss_growth(server.process.pid) as memory, _connect(server) as sock:
        sock.sendall(_head("POST", JSON_ROUTE, {"Content-Type": "application/json", "Content-Length": str(512 * MB)}))
        sent_all = _send_quietly(sock, b"{" + b" " * (4 * MB))
        status, data, closed = _read_response(sock)
    assert status == 413, data[:500]
    assert b"max_request_body_bytes" in data and b"536870912 bytes declared" in data
    assert closed, "the server must not go on reading a refused body"
    del sent_all
    assert memory.growth_mb < 32, f"server grew by {memory.growth_mb:.0f} MB"


def _chunked_flood(server: LiveServer, total: int) -> tuple[int, bytes]:
    with _connect(server) as sock:
        sock.sendall(_head("POST", JSON_ROUTE, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        piece = b" " * MB
        frame = b"%x\r\n%s\r\n" % (len(piece), piece)
        sent = 0
        while sent < total and _send_quietly(sock, frame):
            sent += len(piece)
        status, data, _ = _read_response(sock)
    return status, data


def test_chunked_body_without_length_is_cut_at_the_limit(server: LiveServer) -> None:
    assert server.process is not None
    with peak_rss_growth(server.process.pid) as memory:
        status, data = _chunked_flood(server, 512 * MB)
    assert status == 413, data[:500]
    assert b"larger than 16777216 bytes" in data
    assert memory.growth_mb < 64, f"server grew by {memory.growth_mb:.0f} MB"


def test_concurrent_large_bodies_stay_bounded(server: LiveServer) -> None:
    # Reported: three concurrent 100 MB bodies took the server from 221 to 544 MB.
    assert server.process is not None
    results: list[int] = []
    with peak_rss_growth(server.process.pid) as memory:
        threads = [
            threading.Thread(target=lambda: results.append(_chunked_flood(server, 100 * MB)[0])) for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [413, 413, 413]
    assert memory.growth_mb < 120, f"server grew by {memory.growth_mb:.0f} MB"


def test_json_bodies_under_the_limit_still_work(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/api/2.0/mlflow/experiments/create", json={"name": f"ok-{time.time_ns()}"})
    assert response.status_code == 200, response.text


def test_slow_body_is_answered_408_and_closed(limited: LiveServer) -> None:
    # Reported: 300 slow-body connections stayed open indefinitely. Here 20 trickle one byte a second.
    socks = [_connect(limited) for _ in range(20)]
    started = time.monotonic()
    try:
        for sock in socks:
            sock.sendall(_head("POST", JSON_ROUTE, {"Content-Type": "application/json", "Content-Length": "1000"}))
        open_socks = list(socks)
        while open_socks and time.monotonic() - started < 20:
            for sock in list(open_socks):
                if not _send_quietly(sock, b" "):
                    open_socks.remove(sock)
            time.sleep(1)
            for sock in list(open_socks):
                sock.setblocking(False)
                try:
                    if sock.recv(65536, socket.MSG_PEEK):
                        open_socks.remove(sock)
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    open_socks.remove(sock)
                sock.setblocking(True)
        elapsed = time.monotonic() - started
        assert not open_socks, f"{len(open_socks)} connections still open after {elapsed:.0f} s"
        assert elapsed < 10
        for sock in socks:
            sock.settimeout(5)
            status, data, closed = _read_response(sock)
            assert status == 408, data[:300]
            assert b"request_body_timeout_seconds=3" in data
            assert closed
    finally:
        for sock in socks:
            sock.close()


def test_a_slow_but_steady_upload_is_not_cut_off(limited: LiveServer) -> None:
    # 3 s + 1 s per KiB: a 6 KiB body at ~1.5 KiB/s takes ~4 s, past the first 3 s, and still succeeds.
    with _connect(limited) as sock:
        body = b'{"name": "' + b"a" * (6 * 1024 - 12) + b'"}'
        sock.sendall(
            _head(
                "POST",
                "/api/2.0/mlflow/experiments/search",
                {"Content-Type": "application/json", "Content-Length": str(len(body))},
            )
        )
        for start in range(0, len(body), 512):
            sock.sendall(body[start : start + 512])
            time.sleep(0.33)
        status, data, _ = _read_response(sock)
    assert status != 408, data[:300]


def test_streaming_responses_are_not_cut_by_the_body_deadline(limited: LiveServer) -> None:
    # Past the body, receive() only waits for the client to go: a long download must not time out.
    path = f"/api/2.0/mlflow-artifacts/artifacts/0/slow-{time.time_ns()}/artifacts/blob.bin"
    assert httpx.put(f"{limited.url}{path}", content=b"x" * MB).status_code == 200
    with httpx.stream("GET", f"{limited.url}{path}", timeout=30) as response:
        received = 0
        for chunk in response.iter_bytes(64 * 1024):
            received += len(chunk)
            time.sleep(0.25)  # well past the 3 s deadline in total
    assert received == MB


def test_artifact_uploads_have_their_own_limit(limited: LiveServer) -> None:
    path = f"/api/2.0/mlflow-artifacts/artifacts/0/big-{time.time_ns()}/artifacts/blob.bin"
    response = httpx.put(f"{limited.url}{path}", content=b"x" * (3 * MB))
    assert response.status_code == 413
    assert "max_artifact_upload_bytes" in response.json()["message"]
    assert httpx.get(f"{limited.url}{path}").status_code == 404
    # Chunked (no declared length): cut while streaming, and the partial file is discarded.
    status, data = _chunked_flood_to(limited, "PUT", path, 8 * MB)
    assert status == 413, data[:300]
    assert httpx.get(f"{limited.url}{path}").status_code == 404
    # Under the artifact limit, a body larger than the JSON limit's share is fine.
    assert httpx.put(f"{limited.url}{path}", content=b"x" * MB).status_code == 200


def _chunked_flood_to(server: LiveServer, method: str, path: str, total: int) -> tuple[int, bytes]:
    with _connect(server) as sock:
        sock.sendall(_head(method, path, {"Transfer-Encoding": "chunked"}))
        piece = b"y" * (256 * 1024)
        frame = b"%x\r\n%s\r\n" % (len(piece), piece)
        sent = 0
        while sent < total and _send_quietly(sock, frame):
            sent += len(piece)
        status, data, _ = _read_response(sock)
    return status, data
