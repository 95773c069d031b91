"""Jobs over the real API: validation at submission, the attempt lifecycle, logs, cancel, retry, credentials.

The agent side is played by ``FakeAgent``, a plain HTTP client of the real server speaking
docs/agent-protocol.md, because these tests are about what the server records and answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.client import Client
from runyard.errors import Conflict, InvalidParameter, NotFound, Unauthenticated
from tests.support.compute import FakeAgent, unique, write_recipe
from tests.support.servers import LiveServer

SCHEMA = {
    "type": "object",
    "properties": {
        "lr": {"type": "number", "default": 0.01},
        "epochs": {"type": "integer", "minimum": 1},
        "model": {"type": "object", "properties": {"depth": {"type": "integer"}}},
        "name": {"type": "string"},
    },
    "required": ["epochs"],
    "additionalProperties": False,
}


@pytest.fixture(params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return Client(server.url)


@pytest.fixture
def setup(client: Client, tmp_path: Path) -> dict[str, str]:
    """A recipe, and a private pool serving a private queue (tests share servers)."""
    recipe = unique("job")
    client.push_recipe(write_recipe(tmp_path / "recipe", recipe, parameters=SCHEMA))
    queue, pool = unique("q"), unique("pool")
    client.put_pool(pool, gpus_per_replica=0, queues=[queue])
    return {"recipe": recipe, "queue": queue, "pool": pool}


def _mlflow_run(server: LiveServer, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=10)
    response.raise_for_status()
    run: dict[str, Any] = response.json()["run"]
    return run


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"epochs": "ten"}, "Invalid value \"ten\" for parameter 'parameters.epochs'"),
        ({}, "Missing value for required parameter 'parameters.epochs'"),
        ({"epochs": 0}, "parameters.epochs"),
        ({"epochs": 1, "model": {"depth": "deep"}}, "parameters.model.depth"),
        ({"epochs": 1, "momentum": 0.9}, "Unknown parameter 'parameters.momentum'"),
    ],
)
def test_parameters_are_validated_naming_the_field(
    client: Client, setup: dict[str, str], parameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(").replace(".", r"\.")):
        client.submit_job(setup["recipe"], queue=setup["queue"], parameters=parameters)
    assert client.list_jobs(queue=setup["queue"]) == []


def test_submission_errors(client: Client, setup: dict[str, str]) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        client.submit_job(unique("nope"), parameters={"epochs": 1})
    with pytest.raises(NotFound, match="no version 9"):
        client.submit_job(f"{setup['recipe']}:9", parameters={"epochs": 1})
    with pytest.raises(InvalidParameter, match="queue name"):
        client.submit_job(setup["recipe"], queue="bad queue!", parameters={"epochs": 1})


def test_more_gpus_than_any_pool_offers_is_refused(client: Client, setup: dict[str, str]) -> None:
    queue = unique("gpuq")
    client.put_pool(unique("small"), gpus_per_replica=2, queues=[queue])
    client.put_pool(unique("big"), gpus_per_replica=4, queues=[queue])
    with pytest.raises(InvalidParameter, match=r"asks for 8 GPUs .* \(the most is 4"):
        client.submit_job(setup["recipe"], queue=queue, gpus=8, parameters={"epochs": 1})
    job = client.submit_job(setup["recipe"], queue=queue, gpus=4, parameters={"epochs": 1})
    assert job["resources"]["gpus"] == 4


def test_attempt_lifecycle_run_logs_and_history(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 3, "name": "resnet"})
    assert job["state"] == "queued"
    assert job["parameters"] == {"epochs": 3, "name": "resnet", "lr": 0.01}  # defaults filled in
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assignment = agent.claim()
    assert assignment is not None
    assert assignment["job_id"] == job["job_id"] and assignment["attempt"] == 1
    assert assignment["recipe"]["name"] == setup["recipe"]
    assert assignment["recipe"]["entrypoint"] == {"kind": "python", "target": "main.py"}
    assert httpx.get(server.url + assignment["recipe"]["bundle_url"], timeout=10).status_code == 200
    assert assignment["parameters"]["lr"] == 0.01
    assert client.get_job(job["job_id"])["state"] == "assigned"

    # The attempt's tracking run exists, named after the recipe's experiment, with the parameters as params.
    run = _mlflow_run(server, assignment["run_id"])
    assert run["info"]["status"] == "RUNNING"
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params == {"epochs": "3", "name": "resnet", "lr": "0.01"}
    experiment = httpx.get(
        f"{server.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": assignment["experiment_id"]}
    ).json()["experiment"]
    assert experiment["name"] == setup["recipe"]

    # The scoped credential identifies the attempt while it is active.
    token = assignment["token"]
    with Client(server.url, token=token) as as_job:
        identity = as_job.json("GET", "/api/v1/jobs/current")
    assert identity == {
        "job_id": job["job_id"],
        "attempt": 1,
        "run_id": assignment["run_id"],
        "experiment_id": assignment["experiment_id"],
    }

    client.report_status(job["job_id"], 1, "running")
    client.append_logs(
        job["job_id"],
        1,
        [{"stream": "stdout", "line": "epoch 1", "ts": 1}, {"stream": "stderr", "line": "warn: x", "ts": 2}],
    )
    client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": "epoch 2"}])
    client.report_status(job["job_id"], 1, "succeeded", exit_code=0)
    # A repeated report (an agent retrying after a timeout) is harmless.
    client.report_status(job["job_id"], 1, "succeeded", exit_code=0)

    finished = client.get_job(job["job_id"])
    assert finished["state"] == "succeeded" and finished["exit_code"] == 0
    assert finished["finished_time"] >= finished["started_time"] >= finished["assigned_time"]
    logs = client.job_logs(job["job_id"])
    assert [(line["stream"], line["line"]) for line in logs["lines"]] == [
        ("stdout", "epoch 1"),
        ("stderr", "warn: x"),
        ("stdout", "epoch 2"),
    ]
    assert logs["state"] == "succeeded"
    events = [(e["kind"], e["from_state"], e["to_state"]) for e in client.job_events(job["job_id"])]
    assert events == [
        ("submitted", None, "queued"),
        ("assigned", "queued", "assigned"),
        ("running", "assigned", "running"),
        ("succeeded", "running", "succeeded"),
    ]
    assert _mlflow_run(server, assignment["run_id"])["info"]["status"] == "FINISHED"
    with pytest.raises(Unauthenticated, match="expired"), Client(server.url, token=token) as as_job:
        as_job.json("GET", "/api/v1/jobs/current")
    with pytest.raises(Conflict):
        client.report_status(job["job_id"], 1, "running")


def test_stale_attempt_report_is_a_conflict(client: Client, setup: dict[str, str]) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1})
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assert agent.claim() is not None
    with pytest.raises(Conflict, match="no longer current"):
        client.report_status(job["job_id"], 2, "running")
    with pytest.raises(InvalidParameter, match="state"):
        client.report_status(job["job_id"], 1, "queued")


def test_cancel_queued_and_running(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    queued = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1}, priority=-1)
    running = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1}, priority=5)
    assert client.cancel_job(queued["job_id"])["state"] == "cancelled"
    with pytest.raises(Conflict, match="already cancelled"):
        client.cancel_job(queued["job_id"])

    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assignment = agent.claim()
    assert assignment is not None and assignment["job_id"] == running["job_id"]
    assert agent.claim() is None  # the cancelled job is never placed
    client.report_status(running["job_id"], 1, "running")
    requested = client.cancel_job(running["job_id"])
    assert requested["state"] == "running" and requested["cancel_requested"] is True
    beat = agent.heartbeat()
    assert beat["cancel"] == [{"job_id": running["job_id"], "attempt": 1, "reason": "cancelled by user"}]
    client.report_status(running["job_id"], 1, "cancelled", reason="cancelled by user")
    job = client.get_job(running["job_id"])
    assert job["state"] == "cancelled" and job["reason"] == "cancelled by user"
    assert _mlflow_run(server, assignment["run_id"])["info"]["status"] == "KILLED"


def test_failed_attempt_is_retried_by_policy_then_by_hand(
    server: LiveServer, client: Client, setup: dict[str, str]
) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1}, retries=1)
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    first = agent.claim()
    assert first is not None
    assert agent.finish(job["job_id"], "failed", exit_code=3) == {"state": "queued"}
    second = agent.claim()
    assert second is not None and second["attempt"] == 2
    assert second["run_id"] != first["run_id"] and second["token"] != first["token"]
    assert agent.finish(job["job_id"], "failed", exit_code=3) == {"state": "failed"}
    failed = client.get_job(job["job_id"])
    assert failed["state"] == "failed" and failed["reason"] == "exit code 3"
    assert _mlflow_run(server, first["run_id"])["info"]["status"] == "FAILED"

    assert client.retry_job(job["job_id"])["state"] == "queued"
    third = agent.claim()
    assert third is not None and third["attempt"] == 3
    agent.finish(job["job_id"])
    attempts = client.get_job_attempts(job["job_id"])
    assert [(a["attempt"], a["state"]) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    with pytest.raises(Conflict, match="only a succeeded, failed or cancelled job"):
        client.retry_job(client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1})["job_id"])


def test_logs_follow_streams_server_sent_events(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1})
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assert agent.claim() is not None
    client.report_status(job["job_id"], 1, "running")

    def produce() -> None:
        for index in range(3):
            time.sleep(0.2)
            client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": f"line {index}"}])
        client.report_status(job["job_id"], 1, "succeeded", exit_code=0)

    producer = threading.Thread(target=produce)
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream(
        "GET", f"{server.url}/api/v1/jobs/{job['job_id']}/logs", params={"follow": "true"}, timeout=30
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        producer.start()
        kind = ""
        for text in response.iter_lines():
            if text.startswith("event: "):
                kind = text[7:]
            elif text.startswith("data: "):
                events.append((kind, json.loads(text[6:])))
    producer.join()
    assert [data["line"] for kind, data in events if kind == "line"] == ["line 0", "line 1", "line 2"]
    assert events[-1] == ("end", {"state": "succeeded", "reason": None, "exit_code": 0})


def test_log_long_poll_wakes_on_new_lines(client: Client, setup: dict[str, str]) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1})
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assert agent.claim() is not None
    timer = threading.Timer(0.3, lambda: client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": "hi"}]))
    timer.start()
    started = time.monotonic()
    page = client.job_logs(job["job_id"], wait_seconds=10)
    assert [line["line"] for line in page["lines"]] == ["hi"]
    assert time.monotonic() - started < 3
    timer.join()


def test_queue_no_pool_serves_is_reported(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    orphan = unique("orphan")
    client.submit_job(setup["recipe"], queue=orphan, parameters={"epochs": 1})
    queues = {q["name"]: q for q in client.list_queues()}
    assert queues[orphan]["served"] is False and queues[orphan]["queued"] == 1
    assert queues[setup["queue"]]["pools"] == [setup["pool"]]
    out = subprocess.run(
        [sys.executable, "-m", "runyard", "queue", "ls", "--server", server.url],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(text for text in out.stdout.splitlines() if orphan in text)
    assert "NOT SERVED" in line


def test_cli_submit_show_logs_cancel(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    env = {**server.env, "RUNYARD_SERVER_URL": server.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runyard", *args], env=env, capture_output=True, text=True, timeout=60
        )

    bad = run("job", "submit", setup["recipe"], "--queue", setup["queue"], "--param", "epochs=zero")
    assert bad.returncode == 1 and "parameters.epochs" in bad.stderr
    submitted = run(
        "job", "submit", setup["recipe"], "--queue", setup["queue"], "-p", "epochs=2", "-p", "name=7", "--json"
    )
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["parameters"] == {"epochs": 2, "name": "7", "lr": 0.01}  # typed by the recipe's schema
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assert agent.claim() is not None
    client.report_status(job["job_id"], 1, "running")
    client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": "[not markup] epoch 1"}])
    assert "[not markup] epoch 1" in run("job", "logs", job["job_id"]).stdout
    assert "cancel requested" in run("job", "cancel", job["job_id"]).stdout
    client.report_status(job["job_id"], 1, "cancelled")
    shown = run("job", "show", job["job_id"])
    assert "cancelled" in shown.stdout and "cancel_requested" in shown.stdout
    follow = run("job", "logs", "-f", job["job_id"])
    assert follow.returncode == 1 and "cancelled" in follow.stderr
    listed = run("job", "ls", "--queue", setup["queue"], "--state", "cancelled")
    assert job["job_id"] in listed.stdout


def test_logs_open_at_their_tail_and_page_backwards(server: LiveServer, client: Client, setup: dict[str, str]) -> None:
    job = client.submit_job(setup["recipe"], queue=setup["queue"], parameters={"epochs": 1})
    agent = FakeAgent(client, setup["pool"], gpus=[]).register()
    assert agent.claim() is not None
    client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": f"line {i}"} for i in range(25)])
    url = f"{server.url}/api/v1/jobs/{job['job_id']}/logs"
    tail = httpx.get(url, params={"tail": "true", "limit": 10}).json()["lines"]
    assert [line["line"] for line in tail] == [f"line {i}" for i in range(15, 25)]
    earlier = httpx.get(url, params={"before": tail[0]["line_id"], "limit": 10}).json()["lines"]
    assert [line["line"] for line in earlier] == [f"line {i}" for i in range(5, 15)]
    refused = httpx.get(url, params={"tail": "true", "follow": "true"})
    assert refused.status_code == 400 and "tail" in refused.json()["message"]
