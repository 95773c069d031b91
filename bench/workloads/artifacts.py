"""Artifact workload: upload and download one large file through the server's artifact proxy, in MB/s."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from httpclient import ARTIFACTS_API, check, encode, percentile, post
from workloads.base import Bench, Workload

CHUNK = 1 << 20
MB = 1_000_000
PROXY_SCHEME = "mlflow-artifacts:/"


def source_file(shared: Path, mib: int) -> Path:
    """An incompressible file of ``mib`` MiB, made once per suite run and shared by both servers."""
    path = shared / f"artifact-{mib}MiB.bin"
    if not path.exists() or path.stat().st_size != mib << 20:
        with path.open("wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1 << 20))
    return path


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_baseline(shared: Path, mib: int, repeats: int, scratch: Path) -> float:
    """MB/s of a plain ``shutil.copyfile`` of the same file on the same disk (the target's yardstick).

    Measured right before each server's transfers so both face the same machine load.
    """
    source = source_file(shared, mib)
    speeds = []
    for i in range(repeats):
        target = scratch / f"copy-{i}.bin"
        began = time.perf_counter()
        shutil.copyfile(source, target)
        speeds.append(source.stat().st_size / MB / (time.perf_counter() - began))
        target.unlink()
    return percentile(speeds, 50)


def loopback_baseline(shared: Path, mib: int, repeats: int, scratch: Path) -> float:
    """MB/s of the same file sent over a loopback TCP connection with no HTTP and no server around it.

    The sender uses ``os.sendfile`` (zero copy), the receiver ``recv_into`` one buffer and writes it
    to a file: the fastest any network transfer of the file can be on this machine, and so the bound
    for both servers' artifact proxies. A file copy moves the bytes once inside the kernel; a network
    transfer copies them into the socket, out of it and into the file, and this measures that cost.
    """
    source = source_file(shared, mib)
    size = source.stat().st_size
    speeds = []
    for i in range(repeats):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            sender = threading.Thread(target=_send_file, args=(listener, source, size))
            sender.start()
            target = scratch / f"loopback-{i}.bin"
            buffer = bytearray(CHUNK)
            view = memoryview(buffer)
            with socket.create_connection(listener.getsockname()) as connection:
                began = time.perf_counter()
                with target.open("wb", buffering=0) as out:
                    while received := connection.recv_into(buffer):
                        out.write(view[:received])
                speeds.append(size / MB / (time.perf_counter() - began))
            sender.join()
        if target.stat().st_size != size:
            raise RuntimeError(f"loopback baseline received {target.stat().st_size} of {size} bytes")
        target.unlink()
    return percentile(speeds, 50)


def _send_file(listener: socket.socket, source: Path, size: int) -> None:
    connection, _ = listener.accept()
    with connection, source.open("rb") as stream:
        offset = 0
        while offset < size:
            offset += os.sendfile(connection.fileno(), stream.fileno(), offset, size - offset)


def curl_downloads(client_base_url: str, urls: list[str], scratch: Path, size: int) -> float | None:
    """MB/s of the same downloads with ``curl`` as the client (C, no Python on the receiving end), or
    ``None`` without curl. Shows what the server itself can send when the client is not the bound."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    speeds = []
    for i, url in enumerate(urls):
        target = scratch / f"curl-{i}.bin"
        # curl's own clock (connect to last byte written), so starting the process is not counted.
        argv = [curl, "--silent", "--fail", "--output", str(target), "--write-out", "%{time_total}"]
        done = subprocess.run(
            [*argv, client_base_url + url],
            check=True,
            capture_output=True,
            text=True,
        )
        speeds.append(size / MB / float(done.stdout))
        if target.stat().st_size != size:
            raise RuntimeError(f"curl downloaded {target.stat().st_size} of {size} bytes from {url}")
        target.unlink()
    return percentile(speeds, 50)


def transfer(bench: Bench) -> dict[str, float]:
    source = source_file(bench.shared, bench.sizes.artifact_mb)
    size = source.stat().st_size
    experiment_id = post(bench.client, "/experiments/create", encode({"name": "bench-artifacts"}))["experiment_id"]
    run = post(bench.client, "/runs/create", encode({"experiment_id": experiment_id, "start_time": 0}))["run"]
    artifact_uri = run["info"]["artifact_uri"]
    if not artifact_uri.startswith(PROXY_SCHEME):
        raise RuntimeError(f"run artifacts are not proxied by the server: {artifact_uri}")
    base = f"{ARTIFACTS_API}/{artifact_uri.removeprefix(PROXY_SCHEME).strip('/')}"
    copy = copy_baseline(bench.shared, bench.sizes.artifact_mb, bench.sizes.artifact_repeats, bench.scratch)
    loopback = loopback_baseline(bench.shared, bench.sizes.artifact_mb, bench.sizes.artifact_repeats, bench.scratch)
    client = bench.client
    urls = [f"{base}/model-{i}.bin" for i in range(bench.sizes.artifact_repeats)]
    up, down = [], []
    with bench.measuring("artifact-upload"):
        for url in urls:
            with source.open("rb") as stream:
                began = time.perf_counter()
                check(client.put(url, content=stream, headers={"content-type": "application/octet-stream"}))
                up.append(size / MB / (time.perf_counter() - began))
    targets = [bench.scratch / f"download-{i}.bin" for i in range(len(urls))]
    with bench.measuring("artifact-download"):
        for url, target in zip(urls, targets, strict=True):
            began = time.perf_counter()
            with client.stream("GET", url) as response, target.open("wb") as out:
                check(response)
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
            down.append(size / MB / (time.perf_counter() - began))
    with bench.measuring("artifact-download-curl"):
        curl = curl_downloads(str(client.base_url).rstrip("/"), urls, bench.scratch, size)
    first = targets[0]
    if any(t.stat().st_size != size for t in targets) or _digest(first) != _digest(source):
        raise RuntimeError(f"downloaded artifact differs from the uploaded file ({first.stat().st_size} bytes)")
    for target in targets:
        target.unlink()
    return {
        "upload_mb_s": percentile(up, 50),
        "download_mb_s": percentile(down, 50),
        "copy_mb_s": copy,
        "loopback_mb_s": loopback,
        **({} if curl is None else {"curl_download_mb_s": curl}),
    }


WORKLOADS = [
    Workload(
        "artifacts", ("upload_mb_s", "download_mb_s", "curl_download_mb_s", "copy_mb_s", "loopback_mb_s"), transfer
    )
]
