"""Live-update streams (``/api/v1/live/...``) across two server replicas sharing one PostgreSQL database.

Changes are written through one replica and must reach a stream opened on the other within 2 s, with
no Redis configured: the streams find them in the database.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.client import Client
from tests.support.compute import unique, write_recipe
from tests.support.servers import LiveServer, make_server
from tests.support.services import fresh_database

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    root = tmp_path_factory.mktemp("live-replicas")
    with fresh_database("postgresql", str(root)) as url:
        servers = []
        for index in range(2):
            data_dir = root / f"replica-{index}"
            data_dir.mkdir()
            server = make_server(
                backend="postgresql", database_url=url, data_dir=data_dir, artifacts=str(root / "artifacts")
            )
            server.start()
            servers.append(server)
        try:
            yield servers[0], servers[1]
        finally:
            for server in servers:
                server.stop()


class Stream:
    """An SSE stream read on a thread: ``next(name)`` waits for the next event of that name."""

    def __init__(self, url: str, params: dict[str, Any]) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.status: int | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, params), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the stream did not open"

    def _read(self, url: str, params: dict[str, Any]) -> None:
        try:
            with httpx.stream("GET", url, params=params, timeout=30) as response:
                self.status = response.status_code
                self._ready.set()
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.events.put((kind, json.loads(line[6:])))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the module

    def next(self, name: str, timeout: float = 2.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if kind == name:
                return data
        raise AssertionError(f"no {name!r} event within {timeout} s")


def test_a_new_run_reaches_a_runs_stream_on_the_other_replica(replicas: tuple[LiveServer, LiveServer]) -> None:
    writer, reader = replicas
    experiment_id = httpx.post(f"{writer.url}{API}/experiments/create", json={"name": unique("live")}).json()[
        "experiment_id"
    ]
    other = httpx.post(f"{writer.url}{API}/experiments/create", json={"name": unique("other")}).json()["experiment_id"]
    stream = Stream(f"{reader.url}/api/v1/live/runs", {"experiment_ids": [experiment_id], "wait_seconds": 20})
    assert stream.status == 200
    httpx.post(f"{writer.url}{API}/runs/create", json={"experiment_id": other})  # not watched
    started = time.monotonic()
    run_id = httpx.post(f"{writer.url}{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"][
        "run_id"
    ]
    data = stream.next("runs")
    assert time.monotonic() - started < 2
    assert [(r["run_id"], r["status"]) for r in data["runs"]] == [(run_id, "RUNNING")]
    httpx.post(f"{writer.url}{API}/runs/update", json={"run_id": run_id, "status": "FINISHED"})
    assert [(r["run_id"], r["status"]) for r in stream.next("runs")["runs"]] == [(run_id, "FINISHED")]

    # A tag set or removed, a run deleted or restored: each changes what the runs table shows.
    httpx.post(f"{writer.url}{API}/runs/set-tag", json={"run_id": run_id, "key": "team", "value": "a"})
    assert [r["run_id"] for r in stream.next("runs")["runs"]] == [run_id]
    httpx.post(f"{writer.url}{API}/runs/delete-tag", json={"run_id": run_id, "key": "team"})
    assert [r["run_id"] for r in stream.next("runs")["runs"]] == [run_id]
    httpx.post(f"{writer.url}{API}/runs/delete", json={"run_id": run_id})
    assert [(r["run_id"], r["lifecycle_stage"]) for r in stream.next("runs")["runs"]] == [(run_id, "deleted")]
    httpx.post(f"{writer.url}{API}/runs/restore", json={"run_id": run_id})
    assert [(r["run_id"], r["lifecycle_stage"]) for r in stream.next("runs")["runs"]] == [(run_id, "active")]


def test_a_new_metric_point_reaches_a_metrics_stream(replicas: tuple[LiveServer, LiveServer]) -> None:
    writer, reader = replicas
    experiment_id = httpx.post(f"{writer.url}{API}/experiments/create", json={"name": unique("live")}).json()[
        "experiment_id"
    ]
    run_id = httpx.post(f"{writer.url}{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"][
        "run_id"
    ]
    log = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 10}
    assert httpx.post(f"{writer.url}{API}/runs/log-metric", json=log).status_code == 200
    stream = Stream(f"{reader.url}/api/v1/live/metrics", {"run_id": run_id, "wait_seconds": 20})
    state = stream.next("state")
    assert state["status"] == "RUNNING" and [p["step"] for p in state["latest"]] == [10]
    httpx.post(f"{writer.url}{API}/runs/log-metric", json={**log, "key": "acc", "value": 0.9, "step": 11})
    activity = stream.next("activity")
    assert activity["keys"] == ["acc"]
    # A point before the latest step changes no latest value: still reported, naming no key.
    httpx.post(f"{writer.url}{API}/runs/log-metric", json={**log, "value": 0.7, "step": 3, "timestamp": 2})
    assert stream.next("activity")["keys"] == []


def test_job_changes_reach_a_jobs_stream(replicas: tuple[LiveServer, LiveServer], tmp_path: Path) -> None:
    writer, reader = replicas
    client = Client(writer.url)
    recipe, queue_name, pool = unique("job"), unique("q"), unique("pool")
    client.push_recipe(write_recipe(tmp_path / "recipe", recipe))
    client.put_pool(pool, gpus_per_replica=0, queues=[queue_name])
    stream = Stream(f"{reader.url}/api/v1/live/jobs", {"wait_seconds": 20})
    job = client.submit_job(recipe, queue=queue_name)
    assert {"job_id": job["job_id"], "state": "queued"} in stream.next("jobs")["jobs"]
    client.cancel_job(job["job_id"])
    assert {"job_id": job["job_id"], "state": "cancelled"} in stream.next("jobs")["jobs"]


def test_streams_refuse_bad_input_precisely(replicas: tuple[LiveServer, LiveServer]) -> None:
    server = replicas[0]
    missing = httpx.get(f"{server.url}/api/v1/live/runs", params={"wait_seconds": 0})
    assert missing.status_code == 400 and "experiment_ids" in missing.json()["message"]
    unknown = httpx.get(f"{server.url}/api/v1/live/runs", params={"experiment_ids": "987654", "wait_seconds": 0})
    assert unknown.status_code == 404
    no_run = httpx.get(f"{server.url}/api/v1/live/metrics", params={"run_id": "f" * 32, "wait_seconds": 0})
    assert no_run.status_code == 404
    # wait_seconds=0: what is there, then the end of the stream.
    ended = httpx.get(f"{server.url}/api/v1/live/jobs", params={"wait_seconds": 0})
    assert ended.status_code == 200 and "event: end" in ended.text
