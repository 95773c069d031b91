"""Every acknowledged write survives ``kill -9`` of the server."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import ServerPool, unique

API = "/api/2.0/mlflow"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_acknowledged_batches_survive_kill_9(server_pool: ServerPool, backend: str) -> None:
    server = server_pool.start_new(backend)
    with httpx.Client(base_url=server.url + API, timeout=30) as http:
        experiment_id = http.post("/experiments/create", json={"name": unique("crash")}).json()["experiment_id"]
        run_id = http.post("/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]

    acknowledged: list[int] = []  # batch numbers whose request got a 200
    stop = threading.Event()
    lock = threading.Lock()

    def writer(worker: int) -> None:
        batch = worker
        with httpx.Client(base_url=server.url + API, timeout=10) as http:
            while not stop.is_set():
                metrics = [
                    {"key": "loss", "value": float(batch * 100 + i), "timestamp": batch, "step": batch * 100 + i}
                    for i in range(100)
                ]
                try:
                    response = http.post("/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
                except httpx.TransportError:
                    return  # the server died under this request: it was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(batch)
                batch += 4

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.kill_hard()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) > 10, "the workload should have been acknowledged many times before the kill"

    server.start()
    with httpx.Client(base_url=server.url + API, timeout=60) as http:
        history = http.get("/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}).json()["metrics"]
    stored_steps = {int(point["step"]) for point in history}
    missing = [batch for batch in acknowledged if not all(batch * 100 + i in stored_steps for i in range(100))]
    assert missing == [], f"{len(missing)} acknowledged batches lost after kill -9"
    # Batches are atomic: no batch is half-stored.
    batches_present = {step // 100 for step in stored_steps}
    for batch in batches_present:
        assert all(batch * 100 + i in stored_steps for i in range(100)), f"batch {batch} partially stored"
