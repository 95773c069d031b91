"""Operator endpoints: /health, /ready, /version and Prometheus /metrics."""

from __future__ import annotations

import httpx

from tests.support.servers import LiveServer


def test_health_and_ready(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200
    # The shared server may hold other tests' pools with queued jobs and no worker left: those are
    # named as degraded (tests/integration/test_sandbox_attacks.py proves when), the server stays ready.
    body = ready.json()
    assert body == {"status": "ready"} or (
        body["status"] == "degraded" and all("no live worker" in why for why in body["degraded_pools"].values())
    ), body
    assert httpx.get(f"{server.url}/version").text


def test_prometheus_metrics_count_requests_by_route(server: LiveServer) -> None:
    for _ in range(3):
        httpx.get(f"{server.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    text = httpx.get(f"{server.url}/metrics").text
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("runyard_http_requests_total{")
        and 'route="/api/2.0/mlflow/experiments/get"' in line
        and 'status="200"' in line
    ]
    assert lines, text[:2000]
    assert float(lines[0].rsplit(" ", 1)[1]) >= 3
    assert "runyard_http_request_duration_seconds_bucket" in text


def test_multi_worker_server_serves_and_reports_metrics(server_pool) -> None:  # type: ignore[no-untyped-def]
    live = server_pool.start_new("postgresql", extra_args=["--workers", "2"])
    with httpx.Client(base_url=live.url) as http:
        for _ in range(6):
            assert http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200
        assert "runyard_http_requests_total" in http.get("/metrics").text


def test_ingest_counter_counts_points_params_and_tags(server: LiveServer) -> None:
    api = f"{server.url}/api/2.0/mlflow"

    def counter(text: str, kind: str) -> float:
        for line in text.splitlines():
            if line.startswith(f'runyard_tracking_ingest_total{{kind="{kind}"}}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = httpx.get(f"{server.url}/metrics").text
    run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(25)]
    body = {
        "run_id": run_id,
        "metrics": metrics,
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "v"}],
    }
    assert httpx.post(f"{api}/runs/log-batch", json=body).status_code == 200
    after = httpx.get(f"{server.url}/metrics").text
    assert counter(after, "metric") - counter(before, "metric") == 25
    assert counter(after, "param") - counter(before, "param") == 1
    # create_run also sets the run-name tag through the store, not through the API counter
    assert counter(after, "tag") - counter(before, "tag") == 1


def test_platform_gauges_report_queues_jobs_and_gpus(server: LiveServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from runyard.client import Client
    from tests.support.compute import FakeAgent, unique, write_recipe

    pool = unique("gauge")
    queue = unique("gq")
    with Client(server.url) as client:
        client.put_pool(pool, gpus_per_replica=4, queues=[queue])
        name = unique("gauge-recipe")
        client.push_recipe(write_recipe(tmp_path / "r", name, gpus=1))
        agent = FakeAgent(client, pool, ["0", "1", "2", "3"]).register()
        for _ in range(3):
            client.submit_job(name, queue=queue, gpus=1)
        agent.claim()  # one job placed on a GPU; two stay queued

        def gauge(text: str, name: str, label: str, value: str) -> float:
            for line in text.splitlines():
                if line.startswith(f'{name}{{{label}="{value}"}}'):
                    return float(line.rsplit(" ", 1)[1])
            raise AssertionError(f"{name}{{{label}={value!r}}} missing")

        text = httpx.get(f"{server.url}/metrics").text
        assert gauge(text, "runyard_queue_depth", "queue", queue) == 2
        assert gauge(text, "runyard_pool_gpus_total", "pool", pool) == 4
        assert gauge(text, "runyard_pool_gpus_used", "pool", pool) == 1
        assert gauge(text, "runyard_jobs", "state", "queued") >= 2
        assert gauge(text, "runyard_jobs", "state", "assigned") >= 1
