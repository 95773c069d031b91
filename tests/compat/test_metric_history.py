"""Metric history over REST: paging (get-history) and the UI's sampled bulk-interval variant."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import unique
from tests.support.servers import LiveServer


@pytest.fixture
def logged_run(server: LiveServer) -> tuple[httpx.Client, str, str]:
    http = httpx.Client(base_url=server.url, timeout=60)
    api = "/api/2.0/mlflow"
    experiment_id = http.post(f"{api}/experiments/create", json={"name": unique("hist")}).json()["experiment_id"]
    runs = []
    for count in (3000, 40):
        run_id = http.post(f"{api}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
        for start in range(0, count, 1000):
            metrics = [
                {"key": "loss", "value": step / 10, "timestamp": 1000 + step, "step": step}
                for step in range(start, min(start + 1000, count))
            ]
            assert http.post(f"{api}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200
        runs.append(run_id)
    return http, runs[0], runs[1]


def test_get_history_pages_through_every_point(logged_run: tuple[httpx.Client, str, str]) -> None:
    http, run_id, _ = logged_run
    steps: list[int] = []
    token = None
    pages = 0
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": "700"}
        if token:
            params["page_token"] = token
        body = http.get("/api/2.0/mlflow/metrics/get-history", params=params).json()
        steps.extend(int(m["step"]) for m in body["metrics"])
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
    assert steps == list(range(3000))
    assert pages == 5


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"])
def test_bulk_interval_samples_each_run_keeping_first_and_last(
    logged_run: tuple[httpx.Client, str, str], prefix: str
) -> None:
    http, long_run, short_run = logged_run
    response = http.get(
        f"{prefix}/metrics/get-history-bulk-interval",
        params=[("run_ids", long_run), ("run_ids", short_run), ("metric_key", "loss"), ("max_results", "100")],
    )
    assert response.status_code == 200, response.text
    points = response.json()["metrics"]
    long_steps = [int(p["step"]) for p in points if p["run_id"] == long_run]
    short_steps = [int(p["step"]) for p in points if p["run_id"] == short_run]
    assert len(long_steps) == 100 and long_steps[0] == 0 and long_steps[-1] == 2999
    assert long_steps == sorted(long_steps)
    assert short_steps == list(range(40))  # fewer points than max_results: every point


def test_bulk_interval_step_range_and_errors(logged_run: tuple[httpx.Client, str, str]) -> None:
    http, long_run, _ = logged_run
    url = "/api/2.0/mlflow/metrics/get-history-bulk-interval"
    body = http.get(
        url, params={"run_ids": long_run, "metric_key": "loss", "start_step": "10", "end_step": "19"}
    ).json()
    assert [int(p["step"]) for p in body["metrics"]] == list(range(10, 20))
    bad = http.get(url, params={"run_ids": long_run, "metric_key": "loss", "start_step": "5"})
    assert bad.status_code == 400 and "both must be specified" in bad.json()["message"]
    too_many = http.get(url, params=[("run_ids", f"r{i}") for i in range(101)] + [("metric_key", "loss")])
    assert too_many.status_code == 400 and "at most 100" in too_many.json()["message"]


def test_points_come_back_exactly_whatever_their_keys_and_values(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    """Keys with spaces, slashes and non-ASCII letters; extreme floats and integers (the batch insert's
    array encoding must carry each one through unchanged)."""
    from mlflow.entities import Metric

    experiment_id = mlflow_client.create_experiment(unique("exact"))
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    keys = ["my metric", "a/b.c-d", "ünï_x", "NULL", "x:y"]
    values = [0.1, 1 / 3, 5e-324, -0.0, 1.5e300, -2.5e-10, 123456789.125]
    points = [Metric(key, value, 2**62 + step, step - 2**40) for key in keys for step, value in enumerate(values)]
    mlflow_client.log_batch(run_id, metrics=points)
    for key in keys:
        history = mlflow_client.get_metric_history(run_id, key)
        assert [(m.value, m.timestamp, m.step) for m in history] == [
            (p.value, p.timestamp, p.step) for p in points if p.key == key
        ], key
    latest = mlflow_client.get_run(run_id).data.metrics
    assert latest == dict.fromkeys(keys, values[-1])
