"""The attacks measured against runyard before it had auth, repeated against a live server with auth on.

Each test is what an attacker would try: no credential, someone else's resource, a viewer writing,
a job's token reaching beyond its run, an agent token beyond its pool, a forged audit user.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.client import Client
from runyard.client._credentials import basic_authorization
from runyard.errors import PermissionDenied
from tests.conftest import ServerPool, unique
from tests.support.auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_env
from tests.support.compute import write_recipe
from tests.support.servers import LiveServer

API = "/api/2.0/mlflow"
# No role for new users: each test gives the roles and grants its principals hold.
AUTH_ENV = auth_env("a" * 64, default_role="none")


@pytest.fixture
def server(server_pool: ServerPool) -> LiveServer:
    return server_pool.shared("auth-attacks", "sqlite", extra_env=AUTH_ENV)


@pytest.fixture
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(ADMIN, ADMIN_PASSWORD)) as client:
        yield client


def _user(admin: httpx.Client, role: str | None) -> str:
    name = unique(role or "outsider")
    assert admin.post(f"{API}/users/create", json={"username": name, "password": PASSWORD}).status_code == 200
    if role is not None:
        roles = admin.get("/api/3.0/mlflow/roles/list", params={"workspace": "default"}).json()["roles"]
        role_id = next(r["id"] for r in roles if r["name"] == role)
        assert admin.post("/api/3.0/mlflow/roles/assign", json={"username": name, "role_id": role_id}).is_success
    return name


def _as(server: LiveServer, name: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(name, PASSWORD))


def _experiment(client: httpx.Client) -> str:
    answer = client.post(f"{API}/experiments/create", json={"name": unique("exp")})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["experiment_id"])


def test_anonymous_requests_are_refused_everywhere_but_the_probes(server: LiveServer, admin: httpx.Client) -> None:
    experiment_id = _experiment(admin)
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id}).status_code == 401
        assert anonymous.post("/api/v1/workers/register", json={"pool": "local"}).status_code == 401
        assert anonymous.post("/api/v1/workers/w-1/claim", json={}).status_code == 401
        assert anonymous.get("/api/v1/jobs").status_code == 401
        assert anonymous.put("/api/v1/pools/evil", json={}).status_code == 401
        assert anonymous.get("/api/v1/registry/events").status_code == 401
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/ready").status_code == 200


def test_an_outsider_cannot_read_or_delete_someone_else_s_experiment(server: LiveServer, admin: httpx.Client) -> None:
    experiment_id = _experiment(admin)
    with _as(server, _user(admin, None)) as outsider:
        assert outsider.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).status_code == 403
        denied = outsider.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id})
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert (
        admin.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()["experiment"][
            "lifecycle_stage"
        ]
        == "active"
    )


def test_a_viewer_reads_but_cannot_write_and_an_editor_manages_what_they_create(
    server: LiveServer, admin: httpx.Client
) -> None:
    experiment_id = _experiment(admin)
    run = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
    with _as(server, _user(admin, "viewer")) as viewer:
        assert viewer.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).status_code == 200
        assert viewer.get(f"{API}/runs/get", params={"run_id": run}).status_code == 200
        metric = {"run_id": run, "key": "x", "value": 1.0, "timestamp": 1, "step": 0}
        assert viewer.post(f"{API}/runs/log-metric", json=metric).status_code == 403
        assert viewer.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id}).status_code == 403
        assert viewer.post(f"{API}/experiments/create", json={"name": unique("v")}).status_code == 403
    editor_name = _user(admin, "editor")
    with _as(server, editor_name) as editor:
        own = _experiment(editor)
        own_run = editor.post(f"{API}/runs/create", json={"experiment_id": own}).json()["run"]["info"]
        # Runs record the authenticated principal, whatever the client claims.
        assert own_run["user_id"] == editor_name
        # The editor role edits but does not delete others' experiments; its creator manages its own.
        assert editor.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id}).status_code == 403
        deleted = editor.post(f"{API}/experiments/delete", json={"experiment_id": own})
        assert deleted.status_code == 200, deleted.text


def _compute(server: LiveServer, tmp_path: Path) -> dict[str, Any]:
    """A pool with its own queue, an agent token for it, a recipe and one claimed job."""
    with Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD)) as admin:
        pool, queue = unique("pool"), unique("queue")
        admin.put_pool(pool, queues=[queue])
        recipe = unique("recipe")
        admin.push_recipe(write_recipe(tmp_path / recipe, recipe))
        agent_token = admin.create_token(unique("agent"), agent=True, pool=pool)["token"]
        job = admin.submit_job(recipe, queue=queue)
    agent = Client(server.url, token=agent_token)
    worker = agent.register_worker(name="w", pool=pool, hostname="h", gpus=[], slots=1)
    assignment = agent.claim(worker["worker_id"], 5.0)
    assert assignment is not None and assignment["job_id"] == job["job_id"]
    return {"pool": pool, "queue": queue, "recipe": recipe, "agent": agent, "worker": worker, "job": assignment}


def test_agent_tokens_act_only_for_their_own_pool(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    first = _compute(server, tmp_path)
    second = _compute(server, tmp_path)
    agent: Client = first["agent"]
    with pytest.raises(PermissionDenied, match="acts only for pool"):
        agent.register_worker(name="w2", pool=second["pool"], hostname="h", gpus=[], slots=1)
    with pytest.raises(PermissionDenied, match="acts only for pool"):
        agent.heartbeat(second["worker"]["worker_id"], [])
    with pytest.raises(PermissionDenied, match="acts only for pool"):
        agent.claim(second["worker"]["worker_id"], 0)
    with pytest.raises(PermissionDenied, match="acts only for pool"):
        agent.report_status(second["job"]["job_id"], second["job"]["attempt"], state="succeeded", exit_code=0)
    # A person's credential cannot register a worker at all.
    with _as(server, _user(admin, "editor")) as editor:
        assert editor.post("/api/v1/workers/register", json={"pool": first["pool"]}).status_code == 403


def test_a_job_token_reaches_only_its_own_run_and_bundle(
    server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    compute = _compute(server, tmp_path)
    job = compute["job"]
    other_experiment = _experiment(admin)
    other_run = admin.post(f"{API}/runs/create", json={"experiment_id": other_experiment}).json()["run"]["info"]
    headers = {"Authorization": f"Bearer {job['token']}"}
    with httpx.Client(base_url=server.url, headers=headers) as as_job:
        metric = {"key": "loss", "value": 0.1, "timestamp": 1, "step": 0}
        assert as_job.post(f"{API}/runs/log-metric", json={**metric, "run_id": job["run_id"]}).status_code == 200
        assert as_job.post(f"{API}/runs/log-metric", json={**metric, "run_id": other_run["run_id"]}).status_code == 403
        assert as_job.get(f"{API}/runs/get", params={"run_id": other_run["run_id"]}).status_code == 403
        assert as_job.put("/api/v1/pools/stolen", json={}).status_code == 403
        status = as_job.post(
            f"/api/v1/jobs/{job['job_id']}/attempts/{job['attempt']}/status", json={"state": "succeeded"}
        )
        assert status.status_code == 403
        bundle = job["recipe"]
        assert as_job.get(f"/api/v1/recipes/{bundle['name']}/versions/{bundle['version']}/bundle").status_code == 200
        other = unique("other")
        with Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD)) as root:
            root.push_recipe(write_recipe(tmp_path / other, other))
        assert as_job.get(f"/api/v1/recipes/{other}/versions/1/bundle").status_code == 403
    # When the attempt ends, the token stops working.
    agent: Client = compute["agent"]
    agent.report_status(job["job_id"], job["attempt"], state="running")
    agent.report_status(job["job_id"], job["attempt"], state="succeeded", exit_code=0)
    with httpx.Client(base_url=server.url, headers=headers) as as_job:
        after = as_job.post(f"{API}/runs/log-metric", json={**metric, "run_id": job["run_id"]})
        assert after.status_code == 401


def test_an_agent_token_uploads_only_to_runs_of_its_own_unfinished_attempts(
    server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    first, second = _compute(server, tmp_path), _compute(server, tmp_path)
    agent: Client = first["agent"]
    own, foreign = first["job"], second["job"]
    output = tmp_path / "model.bin"
    output.write_bytes(b"weights")
    agent.upload_artifact(str(own["experiment_id"]), own["run_id"], "model.bin", output)
    # Another pool's run, a run no attempt has, and its own run under another experiment: refused.
    with pytest.raises(PermissionDenied, match="uploads only to runs of unfinished attempts"):
        agent.upload_artifact(str(foreign["experiment_id"]), foreign["run_id"], "model.bin", output)
    experiment_id = _experiment(admin)
    stray = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
    with pytest.raises(PermissionDenied, match="uploads only to runs of unfinished attempts"):
        agent.upload_artifact(experiment_id, stray, "model.bin", output)
    with pytest.raises(PermissionDenied, match="uploads only to runs of unfinished attempts"):
        agent.upload_artifact(experiment_id, own["run_id"], "model.bin", output)
    # Once its attempt has finished, not even its own run.
    agent.report_status(own["job_id"], own["attempt"], state="running")
    agent.report_status(own["job_id"], own["attempt"], state="succeeded", exit_code=0)
    with pytest.raises(PermissionDenied, match="uploads only to runs of unfinished attempts"):
        agent.upload_artifact(str(own["experiment_id"]), own["run_id"], "late.bin", output)


def test_submitting_needs_a_grant_on_the_queue(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    recipe = unique("recipe")
    with Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD)) as root:
        root.push_recipe(write_recipe(tmp_path / recipe, recipe))
    body = {"recipe": recipe, "queue": "default", "parameters": {}}
    with _as(server, _user(admin, "viewer")) as viewer:
        refused = viewer.post("/api/v1/jobs", json=body)
        assert refused.status_code == 403 and "queue" in refused.json()["message"]
        # Viewers read recipes and jobs, but push nothing.
        assert viewer.get("/api/v1/recipes").status_code == 200
        assert viewer.get("/api/v1/jobs").status_code == 200
    editor_name = _user(admin, "editor")
    with _as(server, editor_name) as editor:
        job = editor.post("/api/v1/jobs", json=body)
        assert job.status_code == 201, job.text
        assert job.json()["job"]["user_id"] == editor_name
        assert editor.post(f"/api/v1/jobs/{job.json()['job']['job_id']}/cancel").status_code == 200


def test_registry_events_record_the_principal_not_a_forged_header(server: LiveServer, admin: httpx.Client) -> None:
    editor_name = _user(admin, "editor")
    name = unique("model")
    with _as(server, editor_name) as editor:
        created = editor.post(
            f"{API}/registered-models/create", json={"name": name}, headers={"X-Runyard-User": "mallory"}
        )
        assert created.status_code == 200, created.text
    events = admin.get("/api/v1/registry/events", params={"name": name}).json()["events"]
    assert [event["user"] for event in events] == [editor_name]


def test_searches_return_only_what_the_principal_may_read_and_page_correctly(
    server: LiveServer, admin: httpx.Client
) -> None:
    prefix = unique("search")
    ids = [
        str(admin.post(f"{API}/experiments/create", json={"name": f"{prefix}-{index}"}).json()["experiment_id"])
        for index in range(5)
    ]
    member = _user(admin, None)
    for experiment_id in ids[:3]:
        grant = {"username": member, "resource_type": "experiment", "resource_id": experiment_id, "permission": "READ"}
        assert admin.post("/api/3.0/mlflow/users/permissions/grant", json=grant).is_success
    seen: list[str] = []
    token = None
    with _as(server, member) as client:
        while True:
            body: dict[str, Any] = {"max_results": 2, "filter": f"name LIKE '{prefix}-%'"}
            if token:
                body["page_token"] = token
            page = client.post(f"{API}/experiments/search", json=body).json()
            seen += [experiment["experiment_id"] for experiment in page.get("experiments", [])]
            token = page.get("next_page_token")
            if not token:
                break
        assert sorted(seen) == sorted(ids[:3])
        # A guessed id is refused, not just hidden from the list.
        assert client.get(f"{API}/experiments/get", params={"experiment_id": ids[4]}).status_code == 403


def test_secret_job_env_values_reach_only_the_agent(server: LiveServer, tmp_path: Path) -> None:
    with Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD)) as admin:
        pool, queue, recipe = unique("pool"), unique("queue"), unique("recipe")
        admin.put_pool(pool, queues=[queue])
        admin.push_recipe(write_recipe(tmp_path / recipe, recipe))
        agent_token = admin.create_token(unique("agent"), agent=True, pool=pool)["token"]
        env = {"HF_TOKEN": "hf_live_value", "AWS_SECRET_ACCESS_KEY": "aws-value", "EPOCHS": "3"}
        job = admin.submit_job(recipe, queue=queue, env=env)
        assert job["env"] == {"HF_TOKEN": "********", "AWS_SECRET_ACCESS_KEY": "********", "EPOCHS": "3"}
        assert "hf_live_value" not in str(admin.get_job(job["job_id"]))
        assert "hf_live_value" not in str(admin.list_jobs())
    agent = Client(server.url, token=agent_token)
    worker = agent.register_worker(name="w", pool=pool, hostname="h", gpus=[], slots=1)
    assignment = agent.claim(worker["worker_id"], 5.0)
    assert assignment is not None and assignment["env"]["HF_TOKEN"] == "hf_live_value"


def test_bulk_and_trace_reads_check_every_resource_they_name(server: LiveServer, admin: httpx.Client) -> None:
    """A grant on one experiment opens neither another's runs (listed beside it) nor its traces (named by id)."""
    mine, theirs = _experiment(admin), _experiment(admin)
    runs = {
        experiment_id: admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"][
            "run_id"
        ]
        for experiment_id in (mine, theirs)
    }
    trace = admin.post(
        "/api/3.0/mlflow/traces",
        json={
            "trace": {
                "trace_info": {
                    "trace_id": f"tr-{uuid.uuid4().hex}",
                    "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": theirs}},
                    "request_time": "2026-12-01T00:00:00Z",
                    "state": "OK",
                }
            }
        },
    )
    assert trace.status_code == 200, trace.text
    trace_id = trace.json()["trace"]["trace_info"]["trace_id"]
    name = _user(admin, None)
    granted = admin.post(
        "/api/3.0/mlflow/users/permissions/grant",
        json={"username": name, "resource_type": "experiment", "resource_id": mine, "permission": "READ"},
    )
    assert granted.is_success, granted.text
    with _as(server, name) as reader:
        bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
        assert reader.get(bulk, params={"run_id": [runs[mine]], "metric_key": "m"}).status_code == 200
        # The other run listed first or last: refused either way.
        for order in ([runs[theirs], runs[mine]], [runs[mine], runs[theirs]]):
            assert reader.get(bulk, params={"run_id": order, "metric_key": "m"}).status_code == 403
        assert reader.get(f"/api/3.0/mlflow/traces/{trace_id}").status_code == 403
        assert (
            reader.patch(f"/api/3.0/mlflow/traces/{trace_id}/tags", json={"key": "k", "value": "v"}).status_code == 403
        )
        search = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": theirs}}]}
        assert reader.post("/api/3.0/mlflow/traces/search", json=search).status_code == 403
        own = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": mine}}]}
        assert reader.post("/api/3.0/mlflow/traces/search", json=own).status_code == 200
    assert admin.get(f"/api/3.0/mlflow/traces/{trace_id}").status_code == 200


def test_live_streams_report_only_what_the_caller_may_read(server: LiveServer, admin: httpx.Client) -> None:
    """A grant on one experiment opens no stream of another's runs or metrics, listed alone or beside it."""
    mine, theirs = _experiment(admin), _experiment(admin)
    their_run = admin.post(f"{API}/runs/create", json={"experiment_id": theirs}).json()["run"]["info"]["run_id"]
    my_run = admin.post(f"{API}/runs/create", json={"experiment_id": mine}).json()["run"]["info"]["run_id"]
    name = _user(admin, None)
    granted = admin.post(
        "/api/3.0/mlflow/users/permissions/grant",
        json={"username": name, "resource_type": "experiment", "resource_id": mine, "permission": "READ"},
    )
    assert granted.is_success, granted.text
    with _as(server, name) as reader, httpx.Client(base_url=server.url) as anonymous:
        runs, metrics = "/api/v1/live/runs", "/api/v1/live/metrics"
        for ids in ([theirs], [mine, theirs], [theirs, mine]):
            assert reader.get(runs, params={"experiment_ids": ids, "wait_seconds": 0}).status_code == 403
        assert reader.get(metrics, params={"run_id": their_run, "wait_seconds": 0}).status_code == 403
        assert anonymous.get(runs, params={"experiment_ids": [mine], "wait_seconds": 0}).status_code == 401
        assert anonymous.get("/api/v1/live/jobs", params={"wait_seconds": 0}).status_code == 401
        own = reader.get(runs, params={"experiment_ids": [mine], "wait_seconds": 0, "since": 0})
        assert own.status_code == 200 and my_run in own.text and their_run not in own.text
        assert reader.get(metrics, params={"run_id": my_run, "wait_seconds": 0}).status_code == 200


def _model_with_files(admin: httpx.Client, run_id: str, run_uri: str) -> tuple[str, str]:
    """A registered model whose version 1 holds a copy of the run's ``img/`` files; (name, registry path)."""
    name = unique("model")
    assert admin.post(f"{API}/registered-models/create", json={"name": name}).status_code == 200
    version = {"name": name, "source": f"{run_uri}/img", "run_id": run_id}
    created = admin.post(f"{API}/model-versions/create", json=version)
    assert created.status_code == 200, created.text
    uri = admin.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"}).json()
    return name, uri["artifact_uri"].removeprefix("mlflow-artifacts:/")


def test_registry_files_follow_their_model_not_only_the_workspace(server: LiveServer, admin: httpx.Client) -> None:
    """A viewer of the workspace denied model X (or given only model Y) reads Y's files, never X's, by any route."""
    experiment_id = _experiment(admin)
    run = admin.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]
    uploaded = admin.post(
        "/ajax-api/2.0/mlflow/upload-artifact", params={"run_uuid": run["run_id"], "path": "img/a.png"}, content=b"PNG"
    )
    assert uploaded.status_code == 200, uploaded.text
    denied_model, denied_path = _model_with_files(admin, run["run_id"], run["artifact_uri"])
    open_model, open_path = _model_with_files(admin, run["run_id"], run["artifact_uri"])

    viewer = _user(admin, "viewer")
    deny = {"username": viewer, "resource_type": "registered_model", "resource_id": denied_model, "permission": "DENY"}
    assert admin.post("/api/3.0/mlflow/users/permissions/grant", json=deny).is_success
    # No role at all in the workspace, READ on the open model only.
    reader = _user(admin, None)
    grant = {"username": reader, "resource_type": "registered_model", "resource_id": open_model, "permission": "READ"}
    assert admin.post("/api/3.0/mlflow/users/permissions/grant", json=grant).is_success

    proxy = "/api/2.0/mlflow-artifacts/artifacts"
    for name in (viewer, reader):
        with _as(server, name) as client:
            for model, path, expected in ((denied_model, denied_path, 403), (open_model, open_path, 200)):
                download = client.get(f"{proxy}/{path}/a.png")
                assert download.status_code == expected, (name, download.text)
                assert client.get(proxy, params={"path": path}).status_code == expected
                version_file = client.get(
                    "/model-versions/get-artifact", params={"name": model, "version": "1", "path": "a.png"}
                )
                assert version_file.status_code == expected, version_file.text
                if expected == 200:
                    assert download.content == version_file.content == b"PNG"
                else:
                    assert model in download.json()["message"]
            # Writes under the registry stay refused for everyone.
            assert client.put(f"{proxy}/{open_path}/b.png", content=b"x").status_code == 403
    # The viewer still reads the run's own files; the reader, with no grant on the experiment, does not.
    with _as(server, viewer) as client:
        assert client.get(proxy, params={"path": f"{experiment_id}/{run['run_id']}/artifacts/img"}).status_code == 200
    with _as(server, reader) as client:
        assert client.get(proxy, params={"path": f"{experiment_id}/{run['run_id']}/artifacts/img"}).status_code == 403
    assert admin.get(f"{proxy}/{denied_path}/a.png").content == b"PNG"


def test_registry_searches_return_only_the_models_the_caller_may_read(server: LiveServer, admin: httpx.Client) -> None:
    """A member given READ on one model (or denied one) finds only what it may read, page by page."""
    prefix = unique("listed")
    names = [f"{prefix}-{index}" for index in range(3)]
    run_id = admin.post(f"{API}/runs/create", json={"experiment_id": _experiment(admin)}).json()["run"]["info"][
        "run_id"
    ]
    for name in names:
        assert admin.post(f"{API}/registered-models/create", json={"name": name}).status_code == 200
        version = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
        assert admin.post(f"{API}/model-versions/create", json=version).status_code == 200
    reader = _user(admin, None)
    viewer = _user(admin, "viewer")
    grants = [
        {"username": reader, "resource_type": "registered_model", "resource_id": names[0], "permission": "READ"},
        {"username": viewer, "resource_type": "registered_model", "resource_id": names[1], "permission": "DENY"},
    ]
    for grant in grants:
        assert admin.post("/api/3.0/mlflow/users/permissions/grant", json=grant).is_success
    filter_string = f"name LIKE '{prefix}-%'"

    def found(client: httpx.Client, route: str, key: str) -> list[str]:
        seen: list[str] = []
        params: dict[str, object] = {"filter": filter_string, "max_results": 1}
        while True:
            answer = client.get(f"{API}/{route}/search", params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            seen += [item["name"] for item in body.get(key, [])]
            if not body.get("next_page_token"):
                return sorted(seen)
            params["page_token"] = body["next_page_token"]

    for name, expected in ((reader, [names[0]]), (viewer, [names[0], names[2]])):
        with _as(server, name) as client:
            assert found(client, "registered-models", "registered_models") == expected
            assert found(client, "model-versions", "model_versions") == expected
    assert found(admin, "registered-models", "registered_models") == names
