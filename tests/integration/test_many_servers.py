"""Exactly-once placement with several server replicas on one PostgreSQL.

Three ``runyard server`` processes share a database (and Redis for cross-replica wake-ups). Six
simulated agents, three claim loops each, claim (up to two jobs at a time) through different replicas
while jobs are submitted through all of them. Every job must be placed exactly once, run once, and none may be lost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from runyard.client import Client
from runyard.errors import Unavailable
from tests.support.compute import unique, write_recipe
from tests.support.servers import LiveServer, make_server
from tests.support.services import REDIS_URL, fresh_database

JOBS = 2000
REPLICAS = 3
AGENTS = 6
LOOPS_PER_AGENT = 3


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

    def submitter(client: Client, count: int) -> None:
        try:
            for _ in range(count):
                job_ids.append(client.submit_job(recipe, queue=queue)["job_id"])
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
    submitters = [
        threading.Thread(target=submitter, args=(Client(server.url), JOBS // REPLICAS + (i < JOBS % REPLICAS)))
        for i, server in enumerate(replicas)
    ]
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

    finished: list[dict[str, object]] = []
    before = None
    while True:
        try:
            page = clients[2].list_jobs(queue=queue, limit=1000, before=before)
        except Unavailable:
            continue
        finished += page
        if len(page) < 1000:
            break
        before = str(page[-1]["job_id"])
    assert len(finished) == JOBS
    assert {job["state"] for job in finished} == {"succeeded"}
    assert {job["attempt"] for job in finished} == {1}, "a job was placed more than once"
    print(f"{JOBS} jobs through {REPLICAS} replicas and {AGENTS} agents in {elapsed:.1f}s")
