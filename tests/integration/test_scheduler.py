"""The scheduler over the real API: GPU placement, priorities, instant wake-up, leases, retries, watchdogs.

Workers are ``FakeAgent``s (real HTTP clients of the real server speaking the agent protocol): these
tests are about the server's decisions, so nothing needs to actually run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.client import Client
from runyard.errors import NotFound
from tests.conftest import ServerPool
from tests.support.compute import FakeAgent, unique, write_recipe
from tests.support.servers import LiveServer

GPUS = [str(index) for index in range(8)]
FAST_ENV = {"RUNYARD_LEASE_SECONDS": "1.5", "RUNYARD_STALE_RUN_SECONDS": "2"}
_fast_servers: dict[str, LiveServer] = {}


@pytest.fixture(params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return Client(server.url)


@pytest.fixture
def fast_server(server_pool: ServerPool, backend: str) -> LiveServer:
    """A private server with a 1.5 s lease and a 2 s stale-run limit (started once per backend)."""
    if backend not in _fast_servers:
        _fast_servers[backend] = server_pool.start_new(backend, extra_env=FAST_ENV)
    return _fast_servers[backend]


def _recipe(client: Client, tmp_path: Path, **extra: Any) -> str:
    name = unique("sched")
    client.push_recipe(write_recipe(tmp_path / name, name, extra=extra or None))
    return name


def _pool(client: Client, gpus: int, *queues: str) -> str:
    pool = unique("pool")
    client.put_pool(pool, gpus_per_replica=gpus, queues=list(queues))
    return pool


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def test_gpu_placement_never_overlaps_and_never_idles(client: Client, tmp_path: Path) -> None:
    recipe = _recipe(client, tmp_path)
    queue = unique("gpu")
    pool = _pool(client, 8, queue)
    agents = [FakeAgent(client, pool, gpus=GPUS, slots=0).register() for _ in range(2)]
    rng = random.Random(7)
    sizes = [8, 4, 2, 1, 1, 2, 4, 8, 1, 1, 1, 2, 4, 2, 1, 8, 2, 1, 4, 1]
    wanted = {client.submit_job(recipe, queue=queue, gpus=size)["job_id"]: size for size in sizes}
    done: set[str] = set()
    rounds = 0
    while len(done) < len(wanted):
        rounds += 1
        assert rounds < 200
        for agent in agents:
            for assignment in agent.claim_all():
                assert len(assignment["gpus"]) == wanted[assignment["job_id"]]
        for agent in agents:
            held = [gpu for assignment in agent.held.values() for gpu in assignment["gpus"]]
            assert len(held) == len(set(held)), f"a GPU was given to two jobs: {sorted(held)}"
            assert set(held) <= set(GPUS)
        # No idle GPU while a fitting job waits.
        waiting = [size for job_id, size in wanted.items() if job_id not in done and not _held(agents, job_id)]
        for agent in agents:
            free = 8 - sum(len(a["gpus"]) for a in agent.held.values())
            assert all(size > free for size in waiting), f"{free} GPUs idle while jobs of {waiting} wait"
        served = {w["worker_id"]: w for w in client.list_workers(pool=pool)}
        for agent in agents:
            in_use = sorted(gpu for a in agent.held.values() for gpu in a["gpus"])
            assert sorted(served[agent.worker_id]["gpus_in_use"]) == in_use
        # Finish a random subset of what runs, then place again.
        for agent in agents:
            for job_id in list(agent.held):
                if rng.random() < 0.5:
                    agent.finish(job_id)
                    done.add(job_id)
    states = {job["state"] for job in client.list_jobs(queue=queue, limit=100)}
    assert states == {"succeeded"}


def _held(agents: list[FakeAgent], job_id: str) -> bool:
    return any(job_id in agent.held for agent in agents)


def test_zero_gpu_jobs_use_cpu_slots(client: Client, tmp_path: Path) -> None:
    recipe = _recipe(client, tmp_path)
    queue = unique("cpu")
    pool = _pool(client, 0, queue)
    agent = FakeAgent(client, pool, gpus=[], slots=2).register()
    jobs = [client.submit_job(recipe, queue=queue)["job_id"] for _ in range(3)]
    claimed = agent.claim_all()
    assert [a["job_id"] for a in claimed] == jobs[:2]
    assert all(a["gpus"] == [] for a in claimed)
    agent.finish(jobs[0])
    assert agent.claim_all()[0]["job_id"] == jobs[2]


def test_one_claim_takes_several_jobs_in_placement_order_with_backfill(
    client: Client, server: LiveServer, tmp_path: Path
) -> None:
    name = unique("bulk")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    client.push_recipe(write_recipe(tmp_path / name, name, parameters=schema))
    queue = unique("bulk")
    pool = _pool(client, 4, queue)
    wants = [2, 3, 1, 0, 1, 1, 0]  # GPUs per job, in submission order
    jobs = [client.submit_job(name, queue=queue, gpus=g, parameters={"n": i})["job_id"] for i, g in enumerate(wants)]
    agent = FakeAgent(client, pool, gpus=["0", "1", "2", "3"], slots=1).register()
    answer = client.claim_many(agent.worker_id, 0, 10)
    # 2 GPUs, then the 3-GPU job does not fit (2 left) and is passed over for two 1-GPU jobs and one
    # zero-GPU job (one CPU slot); the rest wait.
    assert [(a["job_id"], a["gpus"]) for a in answer] == [
        (jobs[0], ["0", "1"]),
        (jobs[2], ["2"]),
        (jobs[3], []),
        (jobs[4], ["3"]),
    ]
    assert len({a["token"] for a in answer}) == len({a["run_id"] for a in answer}) == 4
    for index, assignment in zip((0, 2, 3, 4), answer, strict=True):
        assert assignment["parameters"] == {"n": index}
        job = client.get_job(assignment["job_id"])
        assert (job["state"], job["attempt"], job["run_id"]) == ("assigned", 1, assignment["run_id"])
        assert [e["kind"] for e in client.job_events(assignment["job_id"])] == ["submitted", "assigned"]
        run = httpx.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": assignment["run_id"]}).json()
        data = run["run"]["data"]
        assert {p["key"]: p["value"] for p in data["params"]} == {"n": str(index)}
        tags = {t["key"]: t["value"] for t in data["tags"]}
        assert tags["runyard.job_id"] == assignment["job_id"] and tags["runyard.gpus"] == ",".join(assignment["gpus"])
        assert run["run"]["info"]["status"] == "RUNNING"
    assert {client.get_job(job)["state"] for job in (jobs[1], jobs[5], jobs[6])} == {"queued"}
    assert client.claim_many(agent.worker_id, 0, 10) == []  # full: nothing more fits
    for assignment in answer:
        agent.held[assignment["job_id"]] = assignment
    agent.finish(jobs[0])
    agent.finish(jobs[3])
    # Two GPUs and the slot are free again: the 3-GPU job still does not fit; a 1-GPU and the zero-GPU job do.
    assert [a["job_id"] for a in client.claim_many(agent.worker_id, 0, 10)] == [jobs[5], jobs[6]]


def test_a_job_whose_run_cannot_be_created_fails_without_blocking_the_claim(
    client: Client, server: LiveServer, tmp_path: Path
) -> None:
    broken, good = _recipe(client, tmp_path), _recipe(client, tmp_path)
    queue = unique("broken")
    pool = _pool(client, 0, queue)
    doomed = client.submit_job(broken, queue=queue)["job_id"]
    fine = client.submit_job(good, queue=queue)["job_id"]
    experiment = client.get_job(doomed)["experiment_id"]
    deleted = httpx.post(f"{server.url}/api/2.0/mlflow/experiments/delete", json={"experiment_id": experiment})
    assert deleted.status_code == 200, deleted.text
    agent = FakeAgent(client, pool, gpus=[], slots=2).register()
    assert [a["job_id"] for a in client.claim_many(agent.worker_id, 0, 2)] == [fine]
    job = client.get_job(doomed)
    assert job["state"] == "failed"
    assert job["reason"].startswith("sandbox error: cannot create the tracking run")


def test_order_is_queue_priority_then_job_priority_then_submission(client: Client, tmp_path: Path) -> None:
    recipe = _recipe(client, tmp_path)
    low, high = unique("low"), unique("high")
    client.put_queue(high, priority=10)
    pool = _pool(client, 0, low, high)
    low_first = client.submit_job(recipe, queue=low)["job_id"]
    low_urgent = client.submit_job(recipe, queue=low, priority=5)["job_id"]
    low_urgent_later = client.submit_job(recipe, queue=low, priority=5)["job_id"]
    high_job = client.submit_job(recipe, queue=high)["job_id"]
    low_last = client.submit_job(recipe, queue=low)["job_id"]
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    order = []
    for _ in range(3):
        assignment = agent.claim()
        assert assignment is not None
        order.append(assignment["job_id"])
        agent.finish(assignment["job_id"])
    assert order == [high_job, low_urgent, low_urgent_later]
    # Raising a queue's priority re-orders the jobs already waiting in it.
    other = unique("other")
    client.put_pool(pool, gpus_per_replica=0, queues=[low, high, other])
    other_job = client.submit_job(recipe, queue=other)["job_id"]
    client.put_queue(other, priority=20)
    for expected in (other_job, low_first, low_last):
        assignment = agent.claim()
        assert assignment is not None and assignment["job_id"] == expected
        agent.finish(expected)


def test_idle_claim_wakes_at_once_on_submit(client: Client, tmp_path: Path) -> None:
    recipe = _recipe(client, tmp_path)
    queue = unique("wake")
    pool = _pool(client, 0, queue)
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    assert agent.claim(wait_seconds=0) is None
    latencies = []
    for _ in range(3):
        result: dict[str, Any] = {}
        waiter = threading.Thread(target=lambda out=result: out.update(a=agent.claim(wait_seconds=15)))
        waiter.start()
        time.sleep(0.5)  # the claim is now waiting server-side
        started = time.monotonic()
        job = client.submit_job(recipe, queue=queue)
        waiter.join()
        latencies.append(time.monotonic() - started)
        assert result["a"]["job_id"] == job["job_id"]
        agent.finish(job["job_id"])
    # Target is 100 ms; allow for a loaded test machine while still proving there is no polling delay.
    assert min(latencies) < 0.5, latencies


def test_lost_worker_jobs_are_retried_elsewhere_or_failed(fast_server: LiveServer, tmp_path: Path) -> None:
    client = Client(fast_server.url)
    recipe = _recipe(client, tmp_path)
    queue = unique("lease")
    pool = _pool(client, 0, queue)
    retried = client.submit_job(recipe, queue=queue, retries=1)["job_id"]
    not_retried = client.submit_job(recipe, queue=queue, retries=0)["job_id"]
    doomed = FakeAgent(client, pool, gpus=[], slots=2).register()
    assert {a["job_id"] for a in doomed.claim_all()} == {retried, not_retried}
    client.report_status(retried, 1, "running")
    # The doomed agent stops heartbeating; after the 1.5 s lease the reaper marks its jobs lost.
    _eventually(lambda: client.get_job(not_retried)["state"] == "failed")
    failed = client.get_job(not_retried)
    assert failed["reason"].startswith("lost: worker") and "missed its heartbeats" in failed["reason"]
    assert client.get_job(retried)["state"] == "queued"
    kinds = [e["kind"] for e in client.job_events(retried)]
    assert kinds == ["submitted", "assigned", "running", "lost", "queued"]
    with pytest.raises(NotFound, match="register again"):
        doomed.heartbeat()

    healthy = FakeAgent(client, pool, gpus=[], slots=1).register()
    assignment = healthy.claim()
    assert assignment is not None and assignment["job_id"] == retried and assignment["attempt"] == 2
    # The lost attempt's late report is refused; its run was marked FAILED.
    with pytest.raises(Exception, match="no longer current"):
        client.report_status(retried, 1, "succeeded", exit_code=0)
    healthy.finish(retried)
    assert client.get_job(retried)["state"] == "succeeded"
    attempts = client.get_job_attempts(retried)
    assert [(a["attempt"], a["state"]) for a in attempts] == [(1, "lost"), (2, "succeeded")]
    run = httpx.get(f"{fast_server.url}/api/2.0/mlflow/runs/get", params={"run_id": attempts[0]["run_id"]}).json()
    assert run["run"]["info"]["status"] == "FAILED"


def test_deregister_loses_running_attempts(client: Client, tmp_path: Path) -> None:
    recipe = _recipe(client, tmp_path)
    queue = unique("dereg")
    pool = _pool(client, 0, queue)
    job = client.submit_job(recipe, queue=queue, retries=2)["job_id"]
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    assert agent.claim() is not None
    client.deregister_worker(agent.worker_id)
    assert client.get_job(job)["state"] == "queued"
    assert agent.worker_id not in {w["worker_id"] for w in client.list_workers(pool=pool)}


def test_heartbeat_cancels_attempts_the_server_does_not_know(fast_server: LiveServer) -> None:
    client = Client(fast_server.url)
    queue = unique("stale")
    pool = _pool(client, 0, queue)
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    beat = client.heartbeat(agent.worker_id, [{"job_id": "999999", "attempt": 1}])
    assert beat["cancel"] == [{"job_id": "999999", "attempt": 1, "reason": "unknown job"}]
    assert beat["lease_expires_at"] > time.time() * 1000


def test_inactive_job_is_flagged_and_killed(fast_server: LiveServer, tmp_path: Path) -> None:
    client = Client(fast_server.url)
    recipe = _recipe(client, tmp_path, watchdog={"inactivity_seconds": 1, "kill": True})
    queue = unique("idle")
    pool = _pool(client, 0, queue)
    job = client.submit_job(recipe, queue=queue)["job_id"]
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    assignment = agent.claim()
    assert assignment is not None
    assert assignment["sandbox"]["inactivity_timeout_seconds"] == 1
    client.report_status(job, 1, "running")
    # The watchdog checks every 5 s; meanwhile the agent keeps its lease but the job prints nothing.
    cancel: list[dict[str, Any]] = []

    def flagged() -> bool:
        cancel[:] = agent.heartbeat()["cancel"]
        return bool(cancel)

    _eventually(flagged, timeout=20)
    assert cancel == [{"job_id": job, "attempt": 1, "reason": "inactivity"}]
    assert client.get_job(job)["inactive"] is True
    assert "inactive" in [e["kind"] for e in client.job_events(job)]
    client.report_status(job, 1, "cancelled", reason="inactivity")
    assert client.get_job(job)["reason"] == "inactivity"


def test_stale_tracking_runs_are_marked_failed(fast_server: LiveServer, tmp_path: Path) -> None:
    client = Client(fast_server.url)
    api = f"{fast_server.url}/api/2.0/mlflow"
    stale = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    # A job's own run is governed by the job, never by the stale-run watchdog.
    recipe = _recipe(client, tmp_path)
    queue = unique("own")
    pool = _pool(client, 0, queue)
    job = client.submit_job(recipe, queue=queue)["job_id"]
    agent = FakeAgent(client, pool, gpus=[], slots=1).register()
    assignment = agent.claim()
    assert assignment is not None

    def status(run_id: str) -> str:
        return str(httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]["info"]["status"])

    def stale_failed() -> bool:
        agent.heartbeat()
        return status(stale) == "FAILED"

    _eventually(stale_failed, timeout=20)
    assert status(assignment["run_id"]) == "RUNNING"
    assert client.get_job(job)["state"] == "assigned"
