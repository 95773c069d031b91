"""``GET /api/v1/metrics/downsample`` over real HTTP, with points logged by the real mlflow client."""

from __future__ import annotations

import math

import httpx
from mlflow.entities import Metric

from tests.conftest import unique
from tests.support.servers import LiveServer

URL = "/api/v1/metrics/downsample"


def _log(mlflow_client, run_id: str, key: str, values: list[float], start: int = 0) -> None:  # type: ignore[no-untyped-def]
    metrics = [Metric(key, value, 1_000_000 + i, start + i) for i, value in enumerate(values)]
    for offset in range(0, len(metrics), 1000):
        mlflow_client.log_batch(run_id, metrics=metrics[offset : offset + 1000])


def test_a_long_series_comes_back_m4_reduced_with_its_spike_and_markers(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("ds"))
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    values = [math.sin(i / 50) for i in range(5000)]
    values[3333] = 40.0  # a single-sample spike
    values[100] = math.nan
    values[200] = math.inf
    _log(mlflow_client, run_id, "loss", values)

    body = httpx.get(f"{server.url}{URL}", params={"run_id": run_id, "key": "loss", "width": 100}).json()
    series = body["series"][0]
    assert series["downsampled"] is True
    assert series["points_in_range"] == 5000 and series["returned"] <= 400
    assert max(series["y"]) == 40.0 and series["step"][series["y"].index(40.0)] == 3333
    assert {(m["step"], m["kind"]) for m in series["markers"]} == {(100, "nan"), (200, "inf")}
    assert series["x"][-1] == 4999  # the last point is always kept

    zoomed = httpx.get(
        f"{server.url}{URL}", params={"run_id": run_id, "key": "loss", "width": 100, "min_step": 3300, "max_step": 3400}
    ).json()["series"][0]
    assert zoomed["downsampled"] is False and zoomed["points_in_range"] == 101


def test_several_runs_share_one_set_of_bucket_edges(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("ds"))
    first = mlflow_client.create_run(experiment_id).info.run_id
    second = mlflow_client.create_run(experiment_id).info.run_id
    _log(mlflow_client, first, "acc", [0.5] * 10)
    _log(mlflow_client, second, "acc", [0.7] * 10, start=90)
    response = httpx.get(
        f"{server.url}{URL}", params=[("run_id", first), ("run_id", second), ("key", "acc"), ("width", "50")]
    )
    body = response.json()
    assert (body["x_min"], body["x_max"]) == (0, 99)
    assert [s["run_id"] for s in body["series"]] == [first, second]


def test_bad_requests_get_a_precise_400_and_unknown_runs_a_404(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        missing = http.get(URL, params={"key": "loss"})
        assert missing.status_code == 400
        assert missing.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "Missing value for required parameter 'run_id'.",
        }
        bad_axis = http.get(URL, params={"run_id": "x", "key": "k", "x": "epoch"})
        assert bad_axis.status_code == 400 and "'x'" in bad_axis.json()["message"]
        wide = http.get(URL, params={"run_id": "x", "key": "k", "width": 0})
        assert wide.status_code == 400 and "'width'" in wide.json()["message"]
        unknown = http.get(URL, params={"run_id": "0" * 32, "key": "k"})
        assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
