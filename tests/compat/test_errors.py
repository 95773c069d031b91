"""Bad requests get MLflow-shaped 4xx errors with precise messages — never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.servers import LiveServer

API = "/api/2.0/mlflow"

POST_ENDPOINTS = [
    "experiments/create", "experiments/update", "experiments/delete", "experiments/restore",
    "experiments/set-experiment-tag", "experiments/delete-experiment-tag", "experiments/search",
    "runs/create", "runs/update", "runs/delete", "runs/restore", "runs/search", "runs/log-metric",
    "runs/log-parameter", "runs/set-tag", "runs/delete-tag", "runs/log-batch", "runs/log-model",
    "runs/log-inputs", "runs/outputs",
]  # fmt: skip
GET_ENDPOINTS = [
    "experiments/get", "experiments/get-by-name", "experiments/search", "runs/get",
    "metrics/get-history", "metrics/get-history-bulk-interval",
]  # fmt: skip


def _assert_mlflow_error(response: httpx.Response, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert fragment in body["message"]


@pytest.fixture
def live_ids(http: httpx.Client) -> dict[str, str]:
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    experiment_id = http.post("/experiments/create", json={"name": name}).json()["experiment_id"]
    run_id = http.post("/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
    return {"run_id": run_id, "experiment_id": experiment_id}


@pytest.fixture
def http(server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=server.url + API, timeout=30) as client:
        yield client  # type: ignore[misc]


def test_malformed_json(http: httpx.Client) -> None:
    response = http.post("/runs/create", content=b"{not json", headers={"Content-Type": "application/json"})
    _assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE", "Malformed JSON")


def test_body_must_be_an_object(http: httpx.Client) -> None:
    _assert_mlflow_error(http.post("/runs/create", json=[1, 2]), 400, "INVALID_PARAMETER_VALUE", "JSON object")


def test_wrong_type_names_the_field(http: httpx.Client) -> None:
    response = http.post("/runs/log-metric", json={"run_id": "x", "key": "m", "value": "abc", "timestamp": 1})
    _assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE", "'value'")


def test_missing_required_field(http: httpx.Client) -> None:
    _assert_mlflow_error(
        http.post("/runs/log-parameter", json={"run_id": "x"}), 400, "INVALID_PARAMETER_VALUE", "'key'"
    )


def test_missing_names_get_mlflows_message(http: httpx.Client) -> None:
    for path in ("/experiments/create", "/registered-models/create"):
        for body in ({}, {"name": ""}):
            response = http.post(path, json=body)
            assert response.status_code == 400, (path, body)
            assert response.json() == {
                "error_code": "INVALID_PARAMETER_VALUE",
                "message": "Missing value for required parameter 'name'.",
            }, (path, body)


def test_unknown_ids(http: httpx.Client) -> None:
    _assert_mlflow_error(http.get("/runs/get", params={"run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    _assert_mlflow_error(
        http.get("/experiments/get", params={"experiment_id": "424242"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    _assert_mlflow_error(
        http.get("/experiments/get", params={"experiment_id": "abc"}), 400, "INVALID_PARAMETER_VALUE", "valid integer"
    )


def test_out_of_range_integers(http: httpx.Client) -> None:
    experiment_id = http.post("/experiments/create", json={"name": f"range-{id(http)}"}).json()["experiment_id"]
    run_id = http.post("/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
    response = http.post(
        "/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 2**70}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_bad_page_token(http: httpx.Client) -> None:
    response = http.post("/experiments/search", json={"page_token": "%%%"})
    _assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE", "page token")


def test_nul_characters_are_refused_everywhere(http: httpx.Client) -> None:
    # PostgreSQL cannot store NUL; every backend answers the same clear 400 instead of a database error.
    _assert_mlflow_error(
        http.post("/experiments/create", json={"name": "a\x00b"}), 400, "INVALID_PARAMETER_VALUE", "NUL"
    )
    _assert_mlflow_error(
        http.get("/experiments/get-by-name", params={"experiment_name": "a\x00b"}),
        400,
        "INVALID_PARAMETER_VALUE",
        "NUL",
    )


def test_too_long_user_id(http: httpx.Client) -> None:
    response = http.post("/runs/create", json={"experiment_id": "0", "user_id": "u" * 300})
    _assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE", "user_id")


def test_unknown_endpoint_is_404_json(http: httpx.Client) -> None:
    _assert_mlflow_error(http.get("/no/such/thing"), 404, "ENDPOINT_NOT_FOUND")


def test_wrong_method_is_405(http: httpx.Client) -> None:
    assert http.get("/runs/create").status_code == 405


_texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["", "\x00", "..", "a" * 300])
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | _texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_id_values = st.sampled_from(["LIVE", "LIVE", "0", "abc", "1" * 40])
_field_names = st.sampled_from(
    ["run_id", "run_uuid", "experiment_id", "key", "value", "timestamp", "step", "name", "metrics", "params",
     "tags", "experiment_ids", "filter", "max_results", "order_by", "page_token", "status", "end_time",
     "datasets", "models", "new_name", "run_view_type", "view_type", "model_json", "start_time", "metric_key"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(POST_ENDPOINTS),
    body=st.fixed_dictionaries({"run_id": _id_values, "experiment_id": _id_values}).flatmap(
        lambda ids: st.dictionaries(_field_names, _json_values, max_size=6).map(lambda extra: {**extra, **ids})
    ),
)
def test_no_post_body_produces_a_server_error(
    http: httpx.Client, live_ids: dict[str, str], endpoint: str, body: dict[str, Any]
) -> None:
    # Point some requests at a real run/experiment so validation past the "not found" check is exercised.
    for field in ("run_id", "experiment_id"):
        if body.get(field) == "LIVE":
            body[field] = live_ids[field]
    response = http.post(f"/{endpoint}", content=json.dumps(body, allow_nan=True))
    assert response.status_code < 500, f"{endpoint} {body!r} -> {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert set(response.json()) >= {"error_code", "message"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(GET_ENDPOINTS),
    query=st.dictionaries(_field_names, st.text(max_size=30), max_size=5),
)
def test_no_query_produces_a_server_error(http: httpx.Client, endpoint: str, query: dict[str, str]) -> None:
    response = http.get(f"/{endpoint}", params=query)
    assert response.status_code < 500, f"{endpoint} {query!r} -> {response.status_code} {response.text}"
