"""User errors that answered 5xx now answer 400 with a message that says what is wrong."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.compute import unique
from tests.support.servers import LiveServer

MLFLOW = "/api/2.0/mlflow"


@pytest.fixture(params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def http(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


# '²' (superscript two) and '١' (Arabic-Indic one) are digits to str.isdigit() but not to int().
@pytest.mark.parametrize("job_id", ["%C2%B2", "%D9%A1", "j-%C2%B2"])
def test_job_ids_of_non_ascii_digits(http: httpx.Client, job_id: str) -> None:
    routes = [
        ("GET", f"/api/v1/jobs/{job_id}", None),
        ("POST", f"/api/v1/jobs/{job_id}/cancel", None),
        ("POST", f"/api/v1/jobs/{job_id}/retry", None),
        ("GET", f"/api/v1/jobs/{job_id}/events", None),
        ("GET", f"/api/v1/jobs/{job_id}/logs", None),
        ("POST", f"/api/v1/jobs/{job_id}/attempts/1/status", {"state": "running"}),
        ("POST", f"/api/v1/jobs/{job_id}/attempts/1/logs", {"lines": [{"line": "x"}]}),
        ("GET", f"/api/v1/jobs?before={job_id}", None),
    ]
    for method, path, body in routes:
        response = http.request(method, path, json=body)
        assert response.status_code == 400, (method, path, response.status_code, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "Invalid job id" in response.json()["message"] and "job ids are numbers" in response.json()["message"]


def test_recipe_versions_of_non_ascii_digits(http: httpx.Client) -> None:
    response = http.get("/api/v1/recipes/anything/versions/%C2%B2")
    assert response.status_code == 400, response.text
    assert "NAME:VERSION (a number)" in response.json()["message"]


def _run(http: httpx.Client) -> str:
    experiment = http.post(f"{MLFLOW}/experiments/create", json={"name": unique("errors")}).json()["experiment_id"]
    run_id: str = http.post(f"{MLFLOW}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
    http.post(
        f"{MLFLOW}/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 1.0, "timestamp": int(time.time() * 1000), "step": 0},
    ).raise_for_status()
    return run_id


def test_metric_history_with_a_page_size_past_64_bits(http: httpx.Client) -> None:
    run_id = _run(http)
    for max_results in ("9223372036854775807", "99999999999999999999999"):
        response = http.get(
            f"{MLFLOW}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "max_results": max_results}
        )
        assert response.status_code == 400, response.text
        assert "'max_results': must be between 1 and 2147483647" in response.json()["message"]
    # The connection the server used is still good, and ordinary paging works.
    page = http.get(f"{MLFLOW}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "max_results": 1})
    assert page.status_code == 200 and len(page.json()["metrics"]) == 1


def test_metric_history_with_a_page_token_past_64_bits(http: httpx.Client) -> None:
    import base64
    import json

    run_id = _run(http)
    token = base64.b64encode(json.dumps({"offset": 2**70}).encode()).decode()
    response = http.get(
        f"{MLFLOW}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "page_token": token}
    )
    assert response.status_code == 400, response.text
    assert "offset must be an integer between 0 and" in response.json()["message"]


def test_delete_below_a_file(http: httpx.Client) -> None:
    base = f"/api/2.0/mlflow-artifacts/artifacts/0/{unique('del')}/artifacts"
    assert http.put(f"{base}/plain.txt", content=b"text").status_code == 200
    response = http.delete(f"{base}/plain.txt/child")
    assert response.status_code == 400, response.text
    assert "plain.txt' is a file, not a directory" in response.json()["message"]
    assert http.get(f"{base}/plain.txt").content == b"text"


def test_search_with_a_thousand_or_terms(http: httpx.Client) -> None:
    experiment = http.post(f"{MLFLOW}/experiments/create", json={"name": unique("ors")}).json()["experiment_id"]
    many = " OR ".join(f"params.p = '{index}'" for index in range(1000))
    response = http.post(f"{MLFLOW}/runs/search", json={"experiment_ids": [experiment], "filter": many})
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("Invalid filter string: more than 200 comparisons")
    # At the limit the database answers (SQLite's expression depth is not reached).
    at_limit = " OR ".join(f"metrics.m{index % 7} > {index}" for index in range(200))
    response = http.post(f"{MLFLOW}/runs/search", json={"experiment_ids": [experiment], "filter": at_limit})
    assert response.status_code == 200, response.text
    long_list = "attributes.run_id IN (" + ", ".join(f"'r{index}'" for index in range(1001)) + ")"
    response = http.post(f"{MLFLOW}/runs/search", json={"experiment_ids": [experiment], "filter": long_list})
    assert response.status_code == 400, response.text
    assert "more than 1000 values" in response.json()["message"]
    response = http.post(
        f"{MLFLOW}/runs/search",
        json={"experiment_ids": [experiment], "filter": long_list.replace(", 'r1000'", "")},
    )
    assert response.status_code == 200, response.text
