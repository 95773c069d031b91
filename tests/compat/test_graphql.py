"""``/graphql`` with the query documents MLflow's own web UI sends, read from the installed wheel's bundle.

Data is made with the real ``mlflow`` client; each answer is compared with what the same client reads
over REST. With auth on, a caller without READ on the experiment gets an error, not the data.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag

from tests.compat.test_auth import ADMIN, ADMIN_PASSWORD, AUTH_ENV
from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer

BUNDLE = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"


@cache
def ui_document(name: str) -> str:
    """The GraphQL document named ``name`` as MLflow's UI bundle embeds it (a tagged template literal)."""
    pattern = re.compile(r"`(\s*query " + re.escape(name) + r"\b[^`]*)`")
    for path in sorted(BUNDLE.glob("*.js")):
        found = pattern.search(path.read_text(errors="replace"))
        if found:
            return found.group(1)
    raise AssertionError(f"MLflow's UI bundle has no query {name} (looked in {BUNDLE})")


def graphql(url: str, document: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    answer = httpx.post(f"{url}/graphql", json={"query": document, "variables": variables}, timeout=60, **kwargs)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
def logged_run(mlflow_client, tmp_path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("gql"), tags={"team": "vision"})
    run = mlflow_client.create_run(experiment_id, run_name="gql-run", tags={"stage": "dev"})
    run_id = run.info.run_id
    for step in range(5):
        mlflow_client.log_metric(run_id, "loss", 1.0 - step / 10, timestamp=1000 + step, step=step)
    mlflow_client.log_param(run_id, "lr", "0.1")
    mlflow_client.log_metric(run_id, "nan_metric", float("nan"), step=0)
    train = Dataset("train-set", "d1", "local", "{}")
    mlflow_client.log_inputs(run_id, datasets=[DatasetInput(train, [InputTag("mlflow.data.context", "training")])])
    (tmp_path / "notes.txt").write_text("hello")
    mlflow_client.log_artifact(run_id, str(tmp_path / "notes.txt"), artifact_path="docs")
    mlflow_client.set_terminated(run_id)
    model = unique("gql-model")
    mlflow_client.create_registered_model(model)
    mlflow_client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    return {"experiment_id": experiment_id, "run_id": run_id, "model": model}


def test_the_run_page_query_returns_what_rest_returns(server: LiveServer, mlflow_client, logged_run) -> None:  # type: ignore[no-untyped-def]
    run_id = logged_run["run_id"]
    body = graphql(server.url, ui_document("GetRun"), {"data": {"runId": run_id}})
    assert body["errors"] is None
    run = body["data"]["mlflowGetRun"]["run"]
    rest = mlflow_client.get_run(run_id)
    assert run["info"]["runUuid"] == run_id and run["info"]["runName"] == "gql-run"
    assert run["info"]["status"] == "FINISHED" and run["info"]["lifecycleStage"] == "active"
    assert run["info"]["startTime"] == str(rest.info.start_time)  # LongString: int64 as text
    assert run["info"]["artifactUri"] == rest.info.artifact_uri
    assert run["experiment"]["experimentId"] == logged_run["experiment_id"]
    assert {"key": "team", "value": "vision"} in run["experiment"]["tags"]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"]["value"] == pytest.approx(rest.data.metrics["loss"]) and metrics["loss"]["step"] == "4"
    assert metrics["nan_metric"]["value"] is None  # GraphQL's Float has no NaN; MLflow answers null too
    assert {"key": "lr", "value": "0.1"} in run["data"]["params"]
    assert {"key": "stage", "value": "dev"} in run["data"]["tags"]
    assert [d["dataset"]["name"] for d in run["inputs"]["datasetInputs"]] == ["train-set"]
    assert [(v["name"], v["version"], v["status"]) for v in run["modelVersions"]] == [
        (logged_run["model"], "1", "READY")
    ]

    missing = graphql(server.url, ui_document("GetRun"), {"data": {"runId": "0" * 32}})
    assert missing["data"]["mlflowGetRun"] is None
    assert any("not found" in message for message in missing["errors"])


def test_experiment_metric_chart_and_run_search_queries(server: LiveServer, mlflow_client, logged_run) -> None:  # type: ignore[no-untyped-def]
    experiment_id, run_id = logged_run["experiment_id"], logged_run["run_id"]
    other = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.log_metric(other, "loss", 0.5, step=0)

    experiment = graphql(
        server.url, ui_document("MlflowGetExperimentQuery"), {"input": {"experimentId": experiment_id}}
    )
    got = experiment["data"]["mlflowGetExperiment"]["experiment"]
    rest = mlflow_client.get_experiment(experiment_id)
    assert (got["name"], got["creationTime"]) == (rest.name, str(rest.creation_time))

    chart = graphql(
        server.url,
        ui_document("GetMetricHistoryBulkInterval"),
        {
            "data": {
                "runIds": [run_id, other],
                "metricKey": "loss",
                "startStep": None,
                "endStep": None,
                "maxResults": 320,
            }
        },
    )
    points = chart["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]
    assert sorted((p["runId"], p["step"]) for p in points) == sorted(
        [(run_id, str(step)) for step in range(5)] + [(other, "0")]
    )
    assert (
        chart["data"]["mlflowGetMetricHistoryBulkInterval"]["__typename"]
        == "MlflowGetMetricHistoryBulkIntervalResponse"
    )

    search = graphql(
        server.url,
        ui_document("SearchRuns"),
        {"data": {"filter": "params.lr = '0.1'", "experimentIds": [experiment_id]}},
    )
    runs = search["data"]["mlflowSearchRuns"]["runs"]
    assert [r["info"]["runUuid"] for r in runs] == [run_id]
    assert runs[0]["modelVersions"][0]["name"] == logged_run["model"]

    mutation = graphql(
        server.url,
        "mutation Datasets($ids: [String]) { mlflowSearchDatasets(input: {experimentIds: $ids}) "
        "{ datasetSummaries { experimentId name } } "
        'mlflowSearchRuns(input: {experimentIds: $ids, maxResults: 1, orderBy: ["attributes.start_time DESC"]}) '
        "{ runs { info { runUuid } } nextPageToken } }",
        {"ids": [experiment_id]},
    )
    assert mutation["data"]["mlflowSearchDatasets"]["datasetSummaries"] == [
        {"experimentId": experiment_id, "name": "train-set"}
    ]
    assert mutation["data"]["mlflowSearchRuns"]["runs"] == [{"info": {"runUuid": other}}]
    assert mutation["data"]["mlflowSearchRuns"]["nextPageToken"]

    listed = graphql(
        server.url,
        "query Files($run: String, $model: String) { "
        'mlflowListArtifacts(input: {runId: $run, path: "docs"}) { rootUri files { path isDir fileSize } } '
        "mlflowSearchModelVersions(input: {filter: $model}) { modelVersions { name version runId } } }",
        {"run": run_id, "model": f"name = '{logged_run['model']}'"},
    )
    assert listed["data"]["mlflowListArtifacts"]["files"] == [
        {"path": "docs/notes.txt", "isDir": False, "fileSize": "5"}
    ]
    assert listed["data"]["mlflowSearchModelVersions"]["modelVersions"] == [
        {"name": logged_run["model"], "version": "1", "runId": run_id}
    ]


def test_bad_documents_are_refused_precisely(server: LiveServer) -> None:
    url = f"{server.url}/graphql"
    assert httpx.post(url, json={}).json()["message"] == "Missing value for required parameter 'query'."
    assert httpx.post(url, json={"query": '{ test(inputString: "x") { output } }', "variables": []}).status_code == 400
    echoed = httpx.get(
        url, params={"query": "query Echo($s: String) { test(inputString: $s) { output } }", "variables": '{"s": "hi"}'}
    )
    assert echoed.json() == {"data": {"test": {"output": "hi"}}, "errors": None}
    syntax = graphql(server.url, "query { mlflowGetRun(")
    assert syntax["data"] is None and "Syntax Error" in syntax["errors"][0]
    unknown = graphql(server.url, '{ mlflowGetRun(input: {runId: "x"}) { nope } }')
    assert "Cannot query field 'nope'" in unknown["errors"][0]
    deep = "{ " + "a { " * 11 + "b" + " }" * 11 + " }"
    assert graphql(server.url, deep)["errors"] == ["Query exceeds maximum depth of 10"]
    aliases = "{ " + " ".join(f'a{i}: test(inputString: "{i}") {{ output }}' for i in range(11)) + " }"
    assert "at most 10" in graphql(server.url, aliases)["errors"][0]


def test_a_caller_without_read_gets_an_error_not_the_data(
    server_pool: ServerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.server import get_app_client

    server = server_pool.start_new("sqlite", extra_env=AUTH_ENV)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(unique("secret"))
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "loss", 0.5)
    auth = get_app_client("basic-auth", tracking_uri=server.url)
    member = unique("member")
    auth.create_user(member, "member password long")
    as_member = {"auth": (member, "member password long")}

    anonymous = httpx.post(
        f"{server.url}/graphql", json={"query": ui_document("GetRun"), "variables": {"data": {"runId": run_id}}}
    )
    assert anonymous.status_code == 401
    for document, variables, field in (
        (ui_document("GetRun"), {"data": {"runId": run_id}}, "mlflowGetRun"),
        (ui_document("MlflowGetExperimentQuery"), {"input": {"experimentId": experiment_id}}, "mlflowGetExperiment"),
        (ui_document("SearchRuns"), {"data": {"experimentIds": [experiment_id]}}, "mlflowSearchRuns"),
        (
            ui_document("GetMetricHistoryBulkInterval"),
            {"data": {"runIds": [run_id], "metricKey": "loss"}},
            "mlflowGetMetricHistoryBulkInterval",
        ),
    ):
        refused = graphql(server.url, document, variables, **as_member)
        assert refused["data"][field] is None, field
        assert any("Permission denied" in message for message in refused["errors"]), refused

    auth.grant_user_permission(member, "experiment", experiment_id, "READ")
    allowed = graphql(server.url, ui_document("GetRun"), {"data": {"runId": run_id}}, **as_member)
    assert allowed["errors"] is None
    assert allowed["data"]["mlflowGetRun"]["run"]["info"]["runUuid"] == run_id
