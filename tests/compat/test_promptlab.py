"""``ajax-api/2.0/mlflow/runs/create-promptlab-run``: the run MLflow's prompt-engineering UI records.

The body is the one MLflow's UI sends; the run is read back with the real ``mlflow`` client, and its
``model`` artifact loads with ``mlflow.pyfunc.load_model`` as a prompt-lab model.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import mlflow
import pytest

from tests.conftest import unique
from tests.support.servers import LiveServer

PATH = "/ajax-api/2.0/mlflow/runs/create-promptlab-run"


def _body(experiment_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "experiment_id": experiment_id,
        "run_name": "prompt-try",
        "tags": [{"key": "team", "value": "nlp"}],
        "prompt_template": "Translate {{ text }} into {{ language }}",
        "prompt_parameters": [{"key": "text", "value": "hello"}, {"key": "language", "value": "French"}],
        "model_route": "chat-route",
        "model_parameters": [{"key": "temperature", "value": 0.5}, {"key": "max_tokens", "value": 64}],
        "model_input": "Translate hello into French",
        "model_output": "bonjour",
        "model_output_parameters": [{"key": "latency", "value": 120}],
        "mlflow_version": "3.17.2",
        "user_id": "alice",
        "start_time": 1_700_000_000_000,
    }
    return body | changes


def test_a_prompt_lab_run_records_its_prompt_table_and_model(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("promptlab"))
    answer = httpx.post(f"{server.url}{PATH}", json=_body(experiment_id), timeout=60)
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["run"]["info"]["run_id"]

    run = mlflow_client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "prompt-try"
    assert run.info.start_time == 1_700_000_000_000 and run.info.end_time is not None
    assert run.data.params == {
        "temperature": "0.5",
        "max_tokens": "64",
        "model_route": "chat-route",
        "prompt_template": "Translate {{ text }} into {{ language }}",
    }
    assert run.data.tags["mlflow.source.type"] == "PROMPT_ENGINEERING"
    assert run.data.tags["team"] == "nlp"
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [{"path": "eval_results_table.json", "type": "table"}]
    assert [m["artifact_path"] for m in json.loads(run.data.tags["mlflow.log-model.history"])] == ["model"]

    table = mlflow.artifacts.load_dict(f"runs:/{run_id}/eval_results_table.json")
    assert table == {
        "columns": ["text", "language", "prompt", "output", "latency"],
        "data": [["hello", "French", "Translate hello into French", "bonjour", "120"]],
    }
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    lab = model._model_impl  # mlflow.prompt.promptlab_model._PromptlabModel
    assert lab.prompt_template == "Translate {{ text }} into {{ language }}"
    assert lab.model_route == "chat-route"
    assert {p.key: p.value for p in lab.model_parameters} == {"temperature": "0.5", "max_tokens": "64"}
    assert [field.name for field in model.metadata.get_input_schema().inputs] == ["text", "language"]


@pytest.mark.parametrize(
    ("change", "missing"),
    [({"prompt_template": ""}, "prompt_template"), ({"mlflow_version": None}, "mlflow_version"),
     ({"prompt_parameters": []}, "prompt_parameters")],
)  # fmt: skip
def test_a_prompt_lab_run_without_a_required_field_is_refused(
    server: LiveServer,
    mlflow_client,
    change: dict[str, Any],
    missing: str,  # type: ignore[no-untyped-def]
) -> None:
    experiment_id = mlflow_client.create_experiment(unique("promptlab-bad"))
    answer = httpx.post(f"{server.url}{PATH}", json=_body(experiment_id, **change), timeout=60)
    assert answer.status_code == 400
    assert answer.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": f"CreatePromptlabRun request must specify {missing}.",
    }
    assert mlflow_client.search_runs([experiment_id]) == []
    unknown = httpx.post(f"{server.url}{PATH}", json=_body("987654321"), timeout=60)
    assert unknown.status_code == 404
