"""Registered scorers through the real ``mlflow`` 3.17.2 client (``mlflow.genai.scorers``), on every backend."""

from __future__ import annotations

import json

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.genai.scorers import Guidelines, ScorerSamplingConfig, delete_scorer, get_scorer
from mlflow.genai.scorers import list_scorers as list_registered
from mlflow.genai.scorers.registry import list_scorer_versions

from tests.conftest import unique
from tests.support.servers import LiveServer


@pytest.fixture
def experiment_id(mlflow_client: MlflowClient) -> str:
    return str(mlflow_client.create_experiment(unique("scorers")))


def _guidelines(text: str, model: str | None = None) -> Guidelines:
    return Guidelines(name="polite", guidelines=text, **({"model": model} if model else {}))


def test_register_increments_versions_and_reads_them_back(experiment_id: str) -> None:
    _guidelines("Be polite.").register(name="polite", experiment_id=experiment_id)
    _guidelines("Be polite and brief.").register(name="polite", experiment_id=experiment_id)
    _guidelines("Cite sources.").register(name="cited", experiment_id=experiment_id)

    versions = list_scorer_versions(name="polite", experiment_id=experiment_id)
    assert [version for _, version in versions] == [1, 2]
    assert [scorer.guidelines for scorer, _ in versions] == ["Be polite.", "Be polite and brief."]

    latest = get_scorer(name="polite", experiment_id=experiment_id)
    assert latest.guidelines == "Be polite and brief."
    assert get_scorer(name="polite", experiment_id=experiment_id, version=1).guidelines == "Be polite."

    listed = {scorer.name: scorer for scorer in list_registered(experiment_id=experiment_id)}
    assert set(listed) == {"polite", "cited"}
    assert listed["polite"].guidelines == "Be polite and brief."  # the latest version of each name


def test_delete_one_version_then_all(experiment_id: str) -> None:
    for text in ("one", "two", "three"):
        _guidelines(text).register(name="polite", experiment_id=experiment_id)
    delete_scorer(name="polite", experiment_id=experiment_id, version=2)
    assert [v for _, v in list_scorer_versions(name="polite", experiment_id=experiment_id)] == [1, 3]
    with pytest.raises(MlflowException, match="version 2 not found") as error:
        get_scorer(name="polite", experiment_id=experiment_id, version=2)
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    delete_scorer(name="polite", experiment_id=experiment_id, version="all")
    assert list_registered(experiment_id=experiment_id) == []
    with pytest.raises(MlflowException, match="Scorer with name 'polite' not found") as error:
        get_scorer(name="polite", experiment_id=experiment_id)
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # A new registration after deleting everything starts again at version 1.
    _guidelines("again").register(name="polite", experiment_id=experiment_id)
    assert [v for _, v in list_scorer_versions(name="polite", experiment_id=experiment_id)] == [1]


def test_online_scoring_config_round_trips_for_gateway_scorers(experiment_id: str) -> None:
    registered = _guidelines("Be polite.", model="gateway:/judge").register(name="polite", experiment_id=experiment_id)
    started = registered.start(
        experiment_id=experiment_id,
        sampling_config=ScorerSamplingConfig(sample_rate=0.25, filter_string="tags.env = 'prod'"),
    )
    assert started.sample_rate == 0.25
    assert started.filter_string == "tags.env = 'prod'"
    reloaded = get_scorer(name="polite", experiment_id=experiment_id)
    assert (reloaded.sample_rate, reloaded.filter_string) == (0.25, "tags.env = 'prod'")
    stopped = reloaded.stop(experiment_id=experiment_id)
    assert stopped.sample_rate == 0.0

    plain = _guidelines("No gateway.").register(name="plain", experiment_id=experiment_id)
    with pytest.raises(MlflowException, match="does not use a gateway model"):
        plain.start(experiment_id=experiment_id, sampling_config=ScorerSamplingConfig(sample_rate=0.5))


def _call(server: LiveServer, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/3.0/mlflow/scorers/{path}", **kwargs)  # type: ignore[arg-type]


def test_custom_code_and_bad_input_are_refused(server: LiveServer, experiment_id: str) -> None:
    custom = json.dumps({"name": "mine", "call_source": "import os; os.system('id')", "call_signature": "(outputs)"})
    nested = json.dumps({"name": "ens", "ensemble_scorer_data": {"scorers": [{"call_source": "x"}]}})
    cases = [
        (
            "POST",
            "register",
            {"json": {"experiment_id": experiment_id, "name": "x", "serialized_scorer": custom}},
            "Custom scorer registration",
        ),
        (
            "POST",
            "register",
            {"json": {"experiment_id": experiment_id, "name": "x", "serialized_scorer": nested}},
            "Custom scorer registration",
        ),
        (
            "POST",
            "register",
            {"json": {"experiment_id": experiment_id, "name": "x", "serialized_scorer": "{"}},
            "must be valid JSON",
        ),
        (
            "POST",
            "register",
            {"json": {"experiment_id": experiment_id, "serialized_scorer": "{}"}},
            "Missing value for required parameter 'name'.",
        ),
        (
            "POST",
            "register",
            {"json": {"experiment_id": experiment_id, "name": "  ", "serialized_scorer": "{}"}},
            "cannot be empty",
        ),
        ("GET", "get", {"params": {"experiment_id": experiment_id, "name": "x", "version": "two"}}, "version"),
        (
            "GET",
            "list",
            {"params": {"experiment_id": experiment_id, "experiment_ids": [experiment_id]}},
            "Cannot specify both",
        ),
        ("GET", "online-configs", {}, "Missing value for required parameter 'scorer_ids'."),
        (
            "PUT",
            "online-config",
            {"json": {"experiment_id": experiment_id, "name": "x", "sample_rate": 2}},
            "between 0.0 and 1.0",
        ),
        (
            "PUT",
            "online-config",
            {"json": {"experiment_id": experiment_id, "name": "x", "sample_rate": "half"}},
            "must be a number",
        ),
    ]
    for method, path, kwargs, message in cases:
        response = _call(server, method, path, **kwargs)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert message in response.json()["message"], response.json()["message"]
    missing = _call(
        server, "POST", "register", json={"experiment_id": "987654321", "name": "x", "serialized_scorer": "{}"}
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
