"""Exactly-once placement with several server replicas on one PostgreSQL.

Three ``runyard server`` processes share a database (and Redis for cross-replica wake-ups) while jobs
are submitted through all of them. Two agent fleets take the 2,000 jobs:

- six simulated agents, three claim loops each, claiming (up to two jobs at a time) through different
  replicas, as fast as the protocol allows — the contention test for bulk placement;
- six real ``runyard agent`` processes, whose jobs each leave a file behind — the side effects counted.

Every job must be placed exactly once, run once, and none may be lost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runyard.client import Client
from runyard.errors import Unavailable
from tests.support.agents import AgentProcess
from tests.support.compute import unique, write_recipe
from tests.support.servers import LiveServer, make_server
from tests.support.services import REDIS_URL, fresh_database

JOBS = 2000
# Each test runs three replicas whose pools may hold 20 PostgreSQL connections each; two such tests at
# once on the two workers would pass the server's max_connections (100), so they take turns.
pytestmark = pytest.mark.xdist_group("many-servers")

REPLICAS = 3
AGENTS = 6
LOOPS_PER_AGENT = 3
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[LiveServer]]:
    with fresh_database("postgresql", str(tmp_path)) as database_url:
        servers = [
            make_server(
                backend="postgresql",
                database_url=database_url,
                data_dir=tmp_path / f"replica-{index}",
                artifacts=str(tmp_path / "artifacts"),  # shared, as S3 would be
                extra_env={"RUNYARD_REDIS_URL": REDIS_URL},
            )
            for index in range(REPLICAS)
        ]
        try:
            for server in servers:
                server.data_dir.mkdir(parents=True)
                server.start()
            yield servers
        finally:
            for server in servers:
                server.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_job_runs_exactly_once(replicas: list[LiveServer], tmp_path: Path) -> None:
    clients = [Client(server.url) for server in replicas]
    recipe = unique("once")
    clients[0].push_recipe(write_recipe(tmp_path / "recipe", recipe))
    queue, pool = unique("q"), unique("pool")
    clients[1].put_pool(pool, gpus_per_replica=0, queues=[queue])

    ran: list[str] = []
    ran_lock = threading.Lock()
    errors: list[BaseException] = []
    submitted = threading.Event()
    job_ids: list[str] = []

    held: dict[str, set[tuple[str, int]]] = {}
    stop_beating = threading.Event()

    def heartbeat_loop(client: Client, worker_id: str) -> None:
        try:
            while not stop_beating.wait(2.0):
                # A snapshot can include an attempt that finished since; the server then (rightly) lists it
                # for cancelling, which a real agent ignores for a process it no longer has.
                running = [{"job_id": job, "attempt": attempt} for job, attempt in list(held[worker_id])]
                client.heartbeat(worker_id, running)
        except BaseException as error:
            errors.append(error)

    def agent_loop(client: Client, worker_id: str) -> None:
        try:
            while True:
                # Up to two jobs per claim: bulk placement must hand each job out once as well.
                assignments = client.claim_many(worker_id, 1.0, 2)
                if not assignments:
                    if submitted.is_set() and len(ran) >= JOBS:
                        return
                    continue
                for assignment in assignments:
                    held[worker_id].add((assignment["job_id"], assignment["attempt"]))
                for assignment in assignments:
                    job_id, attempt = assignment["job_id"], assignment["attempt"]
                    client.report_status(job_id, attempt, "running")
                    with ran_lock:
                        ran.append(job_id)  # the side effect we count
                    client.report_status(job_id, attempt, "succeeded", exit_code=0)
                    held[worker_id].discard((job_id, attempt))
        except BaseException as error:
            errors.append(error)

    threads = []
    beats = []
    for index in range(AGENTS):
        agent_client = clients[index % REPLICAS]
        worker = agent_client.register_worker(
            name=f"sim-{index}", pool=pool, hostname="sim", gpus=[], slots=LOOPS_PER_AGENT
        )
        held[worker["worker_id"]] = set()
        beats.append(threading.Thread(target=heartbeat_loop, args=(Client(agent_client.base_url), worker["worker_id"])))
        for loop in range(LOOPS_PER_AGENT):
            # Each claim loop of one worker goes through a different replica.
            loop_client = Client(replicas[(index + loop) % REPLICAS].url)
            threads.append(threading.Thread(target=agent_loop, args=(loop_client, worker["worker_id"])))
    submitters = submitter_threads(replicas, recipe, queue, job_ids, errors)
    started = time.monotonic()
    for thread in beats + threads + submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    submitted.set()
    deadline = time.monotonic() + 400
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - started
    stop_beating.set()
    for thread in beats:
        thread.join()
    assert not [t for t in threads if t.is_alive()], f"agents still running after {elapsed:.0f}s; ran {len(ran)}"
    assert not errors, errors[:3]

    assert len(job_ids) == JOBS
    counts = Counter(ran)
    assert set(counts) == set(job_ids), "some job never ran"
    assert max(counts.values()) == 1, [job for job, n in counts.items() if n > 1][:10]

    finished = list_all_jobs(clients[2], queue)
    assert len(finished) == JOBS
    assert {job["state"] for job in finished} == {"succeeded"}
    assert {job["attempt"] for job in finished} == {1}, "a job was placed more than once"
    print(f"{JOBS} jobs through {REPLICAS} replicas and {AGENTS} agents in {elapsed:.1f}s")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_job_runs_exactly_once_on_real_agents(replicas: list[LiveServer], tmp_path: Path) -> None:
    """Six real ``runyard agent`` processes; each job's process leaves one uniquely named file behind.

    The agents use the ``process`` isolation level because the side-effect directory lies outside a
    job's sandbox: with filesystem isolation the jobs could not write there, which is the point of it.
    For the same reason a root agent runs these jobs as root (``RUN_AS_UID=0``), not as its job user.
    """
    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()
    recipe = unique("once-real")
    folder = write_recipe(tmp_path / "recipe", recipe)
    manifest = yaml.safe_load((folder / "runyard.yaml").read_text())
    # mktemp makes a new file per execution, so a job run twice leaves two files, never one.
    manifest["entrypoint"] = {"command": ["sh", "-c", f'mktemp "{side_effects}/$RUNYARD_JOB_ID.XXXXXX"']}
    (folder / "runyard.yaml").write_text(yaml.safe_dump(manifest))
    clients = [Client(server.url) for server in replicas]
    clients[0].push_recipe(folder)
    queue, pool = unique("q"), unique("pool")
    clients[1].put_pool(pool, gpus_per_replica=0, queues=[queue])

    agents = [
        AgentProcess(
            server_url=replicas[index % REPLICAS].url,
            pool=pool,
            work_dir=tmp_path / "agents",
            slots=LOOPS_PER_AGENT,
            extra_env={
                "RUNYARD_SANDBOX_ISOLATION": "process",
                "RUNYARD_SANDBOX_RUN_AS_UID": "0",
                "RUNYARD_AGENT_HEARTBEAT_SECONDS": "2",
            },
        ).start()
        for index in range(AGENTS)
    ]
    try:
        for agent in agents:
            agent.wait_registered()
        job_ids: list[str] = []
        errors: list[BaseException] = []
        submitters = submitter_threads(replicas, recipe, queue, job_ids, errors)
        started = time.monotonic()
        for thread in submitters:
            thread.start()
        for thread in submitters:
            thread.join()
        assert not errors, errors[:3]
        assert len(job_ids) == JOBS

        deadline = time.monotonic() + 600
        finished: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            finished = list_all_jobs(clients[2], queue)
            if all(job["state"] in TERMINAL for job in finished):
                break
            time.sleep(2.0)
        elapsed = time.monotonic() - started
        states = Counter(str(job["state"]) for job in finished)
        assert states == {"succeeded": JOBS}, f"after {elapsed:.0f}s: {states}"
        assert {job["attempt"] for job in finished} == {1}, "a job was placed more than once"
        for agent in agents:
            assert agent.process is not None and agent.process.poll() is None, agent.log_text()[-2000:]
    finally:
        for agent in agents:
            agent.stop()

    ran = Counter(path.name.split(".")[0] for path in side_effects.iterdir())
    assert set(ran) == set(job_ids), f"{len(set(job_ids) - set(ran))} jobs never ran"
    assert max(ran.values()) == 1, [job for job, n in ran.items() if n > 1][:10]
    print(f"{JOBS} jobs on {AGENTS} real agents through {REPLICAS} replicas in {elapsed:.1f}s")


def submitter_threads(
    replicas: list[LiveServer], recipe: str, queue: str, job_ids: list[str], errors: list[BaseException]
) -> list[threading.Thread]:
    """Threads (not started) that submit ``JOBS`` jobs between them, one per replica, into ``job_ids``."""

    def submit(client: Client, count: int) -> None:
        try:
            for _ in range(count):
                job_ids.append(client.submit_job(recipe, queue=queue)["job_id"])
        except BaseException as error:
            errors.append(error)

    return [
        threading.Thread(target=submit, args=(Client(server.url), JOBS // REPLICAS + (i < JOBS % REPLICAS)))
        for i, server in enumerate(replicas)
    ]


def list_all_jobs(client: Client, queue: str) -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = []
    before = None
    while True:
        try:
            page = client.list_jobs(queue=queue, limit=1000, before=before)
        except Unavailable:
            continue
        jobs += page
        if len(page) < 1000:
            return jobs
        before = str(page[-1]["job_id"])
