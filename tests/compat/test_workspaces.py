"""MLflow 3 workspaces against a live server with the real ``mlflow`` client: the workspace API, and
isolation of every workspace-owned resource (a request in one workspace never sees another's, not even
by a guessed id, and the same names may exist in both)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from mlflow.exceptions import MlflowException, RestException

from runyard.client import Client
from runyard.errors import NotFound
from tests.conftest import unique
from tests.support.compute import FakeAgent, write_recipe
from tests.support.registry import new_version
from tests.support.servers import LiveServer

WORKSPACES = "/api/3.0/mlflow/workspaces"
MLFLOW = "/api/2.0/mlflow"
HEADER = "X-MLFLOW-WORKSPACE"


@contextlib.contextmanager
def inside(workspace: str) -> Iterator[None]:
    """Run the block with ``mlflow.set_workspace(workspace)`` (every client request carries the header)."""
    mlflow.set_workspace(workspace)
    try:
        yield
    finally:
        mlflow.set_workspace(None)


@pytest.fixture
def workspace(mlflow_client) -> str:  # type: ignore[no-untyped-def]
    name = unique("team")
    created = mlflow_client.create_workspace(name, description="a team")
    assert (created.name, created.description) == (name, "a team")
    return name


def _code(error: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(error.value.error_code)


def test_workspace_api_create_get_list_update_delete(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    name = unique("crud")
    mlflow_client.create_workspace(name, description="first", default_artifact_root="s3://bucket/team")
    got = mlflow_client.get_workspace(name)
    assert (got.name, got.description, got.default_artifact_root) == (name, "first", "s3://bucket/team")
    listed = {workspace.name for workspace in mlflow_client.list_workspaces()}
    assert {"default", name} <= listed

    updated = mlflow_client.update_workspace(name, description="second", default_artifact_root="")
    assert (updated.description, updated.default_artifact_root) == ("second", None)
    assert mlflow_client.get_workspace(name).description == "second"

    with pytest.raises(MlflowException) as duplicate:
        mlflow_client.create_workspace(name)
    assert _code(duplicate) == "RESOURCE_ALREADY_EXISTS"

    mlflow_client.delete_workspace(name)
    with pytest.raises(RestException) as gone:
        mlflow_client.get_workspace(name)
    assert _code(gone) == "RESOURCE_DOES_NOT_EXIST"
    assert name not in {workspace.name for workspace in mlflow_client.list_workspaces()}


def test_workspace_names_are_validated_as_mlflow_does(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for bad, message in [
            ("Upper", "must match the pattern"),
            ("a", "must be between 2 and 63 characters"),
            ("x" * 64, "must be between 2 and 63 characters"),
            ("-edge", "must match the pattern"),
            ("api", "is reserved"),
            ("default", "reserved and cannot be created"),
        ]:
            response = http.post(WORKSPACES, json={"name": bad})
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert message in response.json()["message"], (bad, response.json())
        missing = http.post(WORKSPACES, json={})
        assert missing.status_code == 400 and "'name'" in missing.json()["message"]
        assert http.delete(f"{WORKSPACES}/default").status_code == 400
        assert http.delete(f"{WORKSPACES}/{unique('none')}?mode=BOGUS").status_code == 400
        unknown = http.get(f"{WORKSPACES}/{unique('none')}")
        assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_header_must_name_an_existing_valid_workspace(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        search = f"{MLFLOW}/experiments/search"
        unknown = http.post(search, json={}, headers={HEADER: unique("ghost")})
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "not found" in unknown.json()["message"]
        invalid = http.post(search, json={}, headers={HEADER: "Not_Valid"})
        assert invalid.status_code == 400 and invalid.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        # No header, an empty one and ``default`` are all the default workspace.
        for headers in ({}, {HEADER: ""}, {HEADER: "default"}):
            assert http.post(search, json={}, headers=headers).status_code == 200
        info = http.get("/api/3.0/mlflow/server-info").json()
        assert info["workspaces_enabled"] is True


def test_restrict_refuses_a_workspace_that_is_not_empty(mlflow_client, workspace: str) -> None:  # type: ignore[no-untyped-def]
    with inside(workspace):
        experiment_id = mlflow_client.create_experiment(unique("exp"))
        mlflow_client.delete_experiment(experiment_id)  # deleted experiments still count, as in MLflow
    with pytest.raises(RestException) as refused:
        mlflow_client.delete_workspace(workspace)
    assert _code(refused) == "RESOURCE_CONFLICT"
    assert "still contains 1 resource(s)" in str(refused.value)
    assert mlflow_client.get_workspace(workspace).name == workspace
    with pytest.raises(RestException) as cascade:
        mlflow_client.delete_workspace(workspace, mode="CASCADE")
    assert _code(cascade) == "INVALID_PARAMETER_VALUE"

    # SET_DEFAULT moves the contents into ``default`` and removes the workspace.
    mlflow_client.delete_workspace(workspace, mode="SET_DEFAULT")
    assert mlflow_client.get_experiment(experiment_id).experiment_id == experiment_id
    with pytest.raises(RestException):
        mlflow_client.get_workspace(workspace)


def test_set_default_refuses_names_that_clash(mlflow_client, workspace: str) -> None:  # type: ignore[no-untyped-def]
    name = unique("clash")
    mlflow_client.create_experiment(name)
    with inside(workspace):
        mlflow_client.create_experiment(name)
    with pytest.raises(RestException) as refused:
        mlflow_client.delete_workspace(workspace, mode="SET_DEFAULT")
    assert _code(refused) == "RESOURCE_CONFLICT" and name in str(refused.value)


def _log_run(client, experiment_name: str) -> Any:  # type: ignore[no-untyped-def]
    experiment_id = client.create_experiment(experiment_name)
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.log_param(run.info.run_id, "lr", "0.1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.txt"
        path.write_text("secret of the team")
        client.log_artifact(run.info.run_id, str(path))
    return experiment_id, run


def test_experiments_runs_and_artifacts_are_isolated(mlflow_client, server: LiveServer, workspace: str) -> None:  # type: ignore[no-untyped-def]
    shared = unique("shared")
    with inside(workspace):
        team_experiment, team_run = _log_run(mlflow_client, shared)
        assert mlflow_client.get_experiment_by_name(shared).experiment_id == team_experiment
    # The same name in the default workspace is another experiment.
    default_experiment, default_run = _log_run(mlflow_client, shared)
    assert default_experiment != team_experiment
    assert mlflow_client.get_experiment_by_name(shared).experiment_id == default_experiment

    team_run_id = team_run.info.run_id
    with inside(workspace):
        logged_model = mlflow_client.create_logged_model(team_experiment, name="net")
    for attempt in (
        lambda: mlflow_client.get_logged_model(logged_model.model_id),
        lambda: mlflow_client.get_experiment(team_experiment),
        lambda: mlflow_client.get_run(team_run_id),
        lambda: mlflow_client.log_metric(team_run_id, "loss", 9.0),
        lambda: mlflow_client.set_tag(team_run_id, "k", "v"),
        lambda: mlflow_client.get_metric_history(team_run_id, "loss"),
        lambda: mlflow_client.list_artifacts(team_run_id),
        lambda: mlflow_client.rename_experiment(team_experiment, unique("stolen")),
        lambda: mlflow_client.delete_run(team_run_id),
    ):
        with pytest.raises(RestException) as hidden:
            attempt()
        assert _code(hidden) == "RESOURCE_DOES_NOT_EXIST"
    found = mlflow_client.search_experiments(filter_string=f"name = '{shared}'")
    assert [e.experiment_id for e in found] == [default_experiment]
    assert mlflow_client.search_runs([team_experiment]) == []
    assert mlflow_client.search_logged_models([team_experiment]) == []
    assert [r.info.run_id for r in mlflow_client.search_runs([team_experiment, default_experiment])] == [
        default_run.info.run_id
    ]

    # The artifact proxy: the team's files by their path are not there for the default workspace.
    path = f"{team_experiment}/{team_run_id}/artifacts/notes.txt"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        proxy = "/api/2.0/mlflow-artifacts/artifacts"
        assert http.get(f"{proxy}/{path}").status_code == 404
        assert http.get(proxy, params={"path": f"{team_experiment}/{team_run_id}/artifacts"}).status_code == 404
        assert http.put(f"{proxy}/{path}", content=b"overwritten").status_code == 404
        assert http.delete(f"{proxy}/{path}").status_code == 404
        assert http.get(proxy).status_code == 404  # the root would list every workspace's experiments
        assert http.get(f"{proxy}/{path}", headers={HEADER: workspace}).content == b"secret of the team"

    with inside(workspace):
        assert mlflow_client.get_run(team_run_id).data.metrics == {"loss": 0.5}
        assert mlflow_client.get_logged_model(logged_model.model_id).name == "net"
        assert [f.path for f in mlflow_client.list_artifacts(team_run_id)] == ["notes.txt"]
        with pytest.raises(RestException):
            mlflow_client.get_run(default_run.info.run_id)
        assert [r.info.run_id for r in mlflow_client.search_runs([team_experiment, default_experiment])] == [
            team_run_id
        ]
        # The fluent API follows the active workspace too.
        mlflow.set_experiment(shared)
        with mlflow.start_run() as fluent:
            mlflow.log_metric("acc", 1.0)
        assert mlflow_client.get_run(fluent.info.run_id).info.experiment_id == team_experiment
    with pytest.raises(RestException):
        mlflow_client.get_run(fluent.info.run_id)


def test_registered_models_versions_aliases_and_events_are_isolated(  # type: ignore[no-untyped-def]
    mlflow_client, server: LiveServer, workspace: str
) -> None:
    name = unique("model")
    with inside(workspace):
        team_version = new_version(mlflow_client, name)
        mlflow_client.set_registered_model_alias(name, "champion", team_version.version)
        mlflow_client.update_registered_model(name, description="the team's")
        download = mlflow_client.get_model_version_download_uri(name, team_version.version)
    # The same name in the default workspace is another model, with nothing registered yet.
    mlflow_client.create_registered_model(name, description="ours")
    assert mlflow_client.get_registered_model(name).description == "ours"
    with pytest.raises(RestException) as hidden:
        mlflow_client.get_model_version(name, team_version.version)
    assert _code(hidden) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(RestException) as no_alias:  # MLflow's answer for an alias the model does not have
        mlflow_client.get_model_version_by_alias(name, "champion")
    assert "alias champion not found" in str(no_alias.value)
    assert [m.description for m in mlflow_client.search_registered_models(filter_string=f"name = '{name}'")] == ["ours"]
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []

    with httpx.Client(base_url=server.url, timeout=30) as http:
        # The version's files by their registry path.
        registry_path = download.removeprefix("mlflow-artifacts:/")
        proxy = "/api/2.0/mlflow-artifacts/artifacts"
        assert http.get(f"{proxy}/{registry_path}/MLmodel").status_code == 404
        assert http.get(f"{proxy}/{registry_path}/MLmodel", headers={HEADER: workspace}).status_code == 200
        # Registry events: each workspace sees its own.
        ours = http.get("/api/v1/registry/events", params={"name": name}).json()["events"]
        assert [e["event_type"] for e in ours] == ["registered_model.created"]
        theirs = http.get("/api/v1/registry/events", params={"name": name}, headers={HEADER: workspace}).json()
        assert "alias.set" in [e["event_type"] for e in theirs["events"]]
        assert "registered_model.created" in [e["event_type"] for e in theirs["events"]]

    with inside(workspace):
        model = mlflow_client.get_registered_model(name)
        assert (model.description, model.aliases) == ("the team's", {"champion": team_version.version})
        assert [v.version for v in mlflow_client.search_model_versions(f"name = '{name}'")] == [team_version.version]


def test_recipes_queues_jobs_and_logs_are_isolated(server: LiveServer, workspace: str, tmp_path: Path) -> None:
    team = Client(server.url, workspace=workspace)
    ours = Client(server.url)
    recipe, queue, pool = unique("train"), unique("q"), unique("pool")
    team.push_recipe(write_recipe(tmp_path / "team", recipe, script="print('team')\n"))
    ours.push_recipe(write_recipe(tmp_path / "ours", recipe, script="print('ours')\n"))
    assert team.get_recipe(recipe)["versions"][0]["digest"] != ours.get_recipe(recipe)["versions"][0]["digest"]
    ours.put_pool(pool, gpus_per_replica=0, queues=[queue])
    team.put_queue(queue, priority=7)

    job = team.submit_job(recipe, queue=queue, parameters={})
    job_id = job["job_id"]
    assert [q["priority"] for q in team.list_queues() if q["name"] == queue] == [7]
    assert [q["priority"] for q in ours.list_queues() if q["name"] == queue] in ([], [0])
    assert job_id not in [j["job_id"] for j in ours.list_jobs()]
    for attempt in (
        lambda: ours.get_job(job_id),
        lambda: ours.cancel_job(job_id),
        lambda: ours.retry_job(job_id),
        lambda: ours.job_events(job_id),
        lambda: ours.job_logs(job_id),
    ):
        with pytest.raises(NotFound):
            attempt()

    # An agent (no workspace of its own) runs the team's job in the team's workspace.
    agent = FakeAgent(ours, pool, gpus=[]).register()
    assignment = agent.claim()
    assert assignment is not None and assignment["job_id"] == job_id
    assert assignment["recipe"]["workspace"] == workspace
    assert assignment["env"]["MLFLOW_WORKSPACE"] == workspace
    bundle = httpx.get(server.url + assignment["recipe"]["bundle_url"], headers={HEADER: workspace}, timeout=30)
    assert bundle.status_code == 200 and bundle.headers["X-Runyard-Digest"] == assignment["recipe"]["digest"]
    ours.append_logs(job_id, assignment["attempt"], [{"stream": "stdout", "line": "team log line"}])
    agent.finish(job_id)
    assert team.get_job(job_id)["state"] == "succeeded"
    assert [line["line"] for line in team.job_logs(job_id)["lines"]] == ["team log line"]
    run_id = assignment["run_id"]
    run = httpx.get(f"{server.url}{MLFLOW}/runs/get", params={"run_id": run_id}, timeout=30)
    assert run.status_code == 404
    run = httpx.get(
        f"{server.url}{MLFLOW}/runs/get", params={"run_id": run_id}, headers={HEADER: workspace}, timeout=30
    )
    assert run.json()["run"]["info"]["status"] == "FINISHED"
