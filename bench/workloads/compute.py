"""Compute workloads (runyard on PostgreSQL only): dispatch latency and scheduler throughput.

- **dispatch** — one idle simulated agent waits in a claim; the time from sending ``POST
  /api/v1/jobs`` until its ``running`` report is acknowledged (claim answered, ``running`` reported
  on receipt), p50/p95 over ``dispatch_submissions``. Then the same with a real ``runyard agent``
  process (bundle cached after a warm-up, a no-op entrypoint in the sandbox): submit → the server
  records ``running`` (its ``started_time``).
- **scheduler** — ``compute_jobs`` queued jobs of a trivial recipe, ``compute_agents`` simulated
  agents (registered with plenty of CPU slots, heartbeating every 10 s) each looping on
  ``claim {"wait_seconds": 0, "max_assignments": compute_batch}`` until the queue is empty;
  placements/s = assignments received ÷ elapsed wall time.

Both also report CPU time (server process from its ``/metrics``, plus the PostgreSQL backends
serving the benchmark database) per placement or dispatch: on a shared machine wall time is noisy,
CPU time much less so. MLflow has no compute API and SQLite is not a target: both report
"not available".
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psutil

from httpclient import Unavailable, check, percentile
from servers import RUNYARD_BIN
from workloads.base import Bench, Workload

RECIPE = "bench-noop"
HEARTBEAT_SECONDS = 10.0
SUBMITTERS = 16  # concurrent POST /api/v1/jobs while queueing (untimed)
AGENT_START_SECONDS = 60.0


def _require_compute(bench: Bench) -> None:
    if bench.server_name != "runyard":
        raise Unavailable("no compute API")
    if not bench.database_url.startswith("postgresql"):
        raise Unavailable("the compute targets are for PostgreSQL")


def _bundle() -> bytes:
    """A trivial recipe: no parameters, no GPU, an entrypoint that does nothing."""
    files = {
        "runyard.yaml": f"name: {RECIPE}\nentrypoint: main.py\nresources: {{gpus: 0}}\n".encode(),
        "main.py": b"pass\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _push_recipe(client: httpx.Client) -> None:
    check(
        client.post(
            "/api/v1/recipes", content=_bundle(), params={"name": RECIPE}, headers={"content-type": "application/gzip"}
        )
    )


def _pool(client: httpx.Client, pool: str, queue: str) -> None:
    check(client.put(f"/api/v1/pools/{pool}", json={"queues": [queue]}))


def _prepare(bench: Bench) -> None:
    _require_compute(bench)
    if "compute_recipe" not in bench.extras:
        _push_recipe(bench.client)
        bench.extras["compute_recipe"] = RECIPE


# -- CPU accounting ------------------------------------------------------------------------------


def _server_cpu_seconds(client: httpx.Client) -> float:
    """``process_cpu_seconds_total`` of the server (prometheus_client's process collector)."""
    for line in check(client.get("/metrics")).text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    raise RuntimeError("/metrics has no process_cpu_seconds_total")


def _database_backends(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the benchmark's database (by title)."""
    name = database_url.rsplit("/", 1)[-1]
    found = {}
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres: ") and f" {name} " in f"{title} ":
                times = process.cpu_times()
                found[process.pid] = times.user + times.system
    return found


class CpuMeter:
    """Server and database CPU seconds spent between ``start`` and ``stop``.

    The server's comes from its own counter. The database's is summed over its backends, sampled
    every 0.2 s so that connections the server's pool opens and closes meanwhile still count (up to
    their last sample).
    """

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.server = 0.0
        self.database = 0.0
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._last.update(_database_backends(self.bench.database_url))

    def start(self) -> CpuMeter:
        self._first = _database_backends(self.bench.database_url)
        self._last = dict(self._first)
        self.server = -_server_cpu_seconds(self.bench.client)
        self._sampler.start()
        return self

    def stop(self) -> CpuMeter:
        self.server += _server_cpu_seconds(self.bench.client)
        self._stop.set()
        self._sampler.join()
        self._last.update(_database_backends(self.bench.database_url))
        self.database = sum(self._last.values()) - sum(self._first.values())
        return self


# -- dispatch latency ----------------------------------------------------------------------------


def _async_client(base_url: str, connections: int = 10) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=httpx.Timeout(120.0))


async def _simulated_dispatch(base_url: str, count: int) -> list[float]:
    """Seconds from submitting to the acknowledged ``running`` report, one idle simulated agent."""
    suffix = uuid.uuid4().hex[:8]
    pool, queue = f"dispatch-{suffix}", f"dispatch-{suffix}"
    async with _async_client(base_url) as client:
        check(await client.put(f"/api/v1/pools/{pool}", json={"queues": [queue]}))
        worker = check(
            await client.post("/api/v1/workers/register", json={"name": "sim", "pool": pool, "slots": 1})
        ).json()["worker_id"]
        latencies = []
        for index in range(count + 3):  # 3 warm-ups
            claim = asyncio.create_task(
                client.post(f"/api/v1/workers/{worker}/claim", json={"wait_seconds": 30, "max_assignments": 1})
            )
            await asyncio.sleep(0.2)  # the claim is now waiting on the idle server
            began = time.perf_counter()
            job = check(await client.post("/api/v1/jobs", json={"recipe": RECIPE, "queue": queue})).json()["job"]
            assignment = check(await claim).json()["assignment"]
            if assignment is None or assignment["job_id"] != job["job_id"]:
                raise RuntimeError(f"the waiting claim did not get job {job['job_id']}: {assignment}")
            status = f"/api/v1/jobs/{job['job_id']}/attempts/{assignment['attempt']}/status"
            check(await client.post(status, json={"state": "running"}))
            if index >= 3:
                latencies.append(time.perf_counter() - began)
            check(await client.post(status, json={"state": "succeeded", "exit_code": 0}))
        check(await client.post(f"/api/v1/workers/{worker}/deregister"))
    return latencies


@contextlib.contextmanager
def _agent_process(bench: Bench, pool: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``runyard agent`` (one slot, no GPU) serving ``pool``; stopped with SIGTERM afterwards."""
    log = bench.scratch / f"agent-{pool}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}
    command = [str(RUNYARD_BIN), "agent", "--server", str(bench.client.base_url), "--pool", pool]
    command += ["--gpus", "none", "--slots", "1", "--work-dir", str(bench.scratch / f"agent-{pool}")]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_job(client: httpx.Client, job_id: str, done: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll until the job ends. Slowly: the figures come from the server's own timestamps, and fast
    polling would load the one server process whose latency is being measured."""
    deadline = time.monotonic() + timeout
    time.sleep(0.3)
    while time.monotonic() < deadline:
        job: dict[str, Any] = check(client.get(f"/api/v1/jobs/{job_id}")).json()["job"]
        if job["state"] in done:
            return job
        time.sleep(0.1)
    raise RuntimeError(f"job {job_id} did not reach {sorted(done)} within {timeout:.0f} s")


def _agent_dispatch(bench: Bench, count: int) -> tuple[list[float], list[float]]:
    """Seconds from submitting to the server recording ``running`` (reported by a real agent), and
    of that the agent's part: from the server assigning the job to it recording ``running``."""
    suffix = uuid.uuid4().hex[:8]
    pool, queue = f"agent-{suffix}", f"agent-{suffix}"
    client = bench.client
    _pool(client, pool, queue)
    latencies, agent_parts = [], []
    with _agent_process(bench, pool) as agent:
        deadline = time.monotonic() + AGENT_START_SECONDS
        while not check(client.get("/api/v1/workers", params={"pool": pool})).json()["workers"]:
            if agent.poll() is not None or time.monotonic() > deadline:
                log = (bench.scratch / f"agent-{pool}.log").read_text()
                raise RuntimeError(f"runyard agent did not register: {log[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.5)  # its claim is waiting
        for index in range(count + 2):  # 2 warm-ups (the first downloads the bundle)
            submitted_ms = time.time() * 1000
            job = check(client.post("/api/v1/jobs", json={"recipe": RECIPE, "queue": queue})).json()["job"]
            finished = _wait_job(client, job["job_id"], {"succeeded", "failed", "cancelled"})
            if finished["state"] != "succeeded" or finished["started_time"] is None:
                raise RuntimeError(f"job {job['job_id']} ended {finished['state']}: {finished.get('reason')}")
            if index >= 2:
                latencies.append((finished["started_time"] - submitted_ms) / 1000)
                agent_parts.append((finished["started_time"] - finished["assigned_time"]) / 1000)
            time.sleep(0.3)  # the agent is idle and claiming again
    return latencies, agent_parts


def dispatch(bench: Bench) -> dict[str, float]:
    _prepare(bench)
    count = bench.sizes.dispatch_submissions
    cpu = CpuMeter(bench).start()
    simulated = asyncio.run(_simulated_dispatch(str(bench.client.base_url), count))
    cpu.stop()
    agent, agent_parts = _agent_dispatch(bench, count)
    cycles = count + 3
    return {
        "dispatch_p50_ms": percentile(simulated, 50) * 1000,
        "dispatch_p95_ms": percentile(simulated, 95) * 1000,
        # submit + claim + running + succeeded per cycle (the 0.2 s idle waits cost nothing)
        "dispatch_server_cpu_ms": cpu.server / cycles * 1000,
        "dispatch_db_cpu_ms": cpu.database / cycles * 1000,
        "agent_dispatch_p50_ms": percentile(agent, 50) * 1000,
        "agent_dispatch_p95_ms": percentile(agent, 95) * 1000,
        "agent_part_p50_ms": percentile(agent_parts, 50) * 1000,
    }


# -- scheduler throughput ------------------------------------------------------------------------


async def _queue_jobs(base_url: str, queue: str, count: int) -> float:
    async with _async_client(base_url, SUBMITTERS) as client:
        remaining = iter(range(count))
        body = {"recipe": RECIPE, "queue": queue}

        async def submitter() -> None:
            for _ in remaining:
                check(await client.post("/api/v1/jobs", json=body))

        began = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
        return time.perf_counter() - began


async def _place_all(bench: Bench, pool: str, agents: int, batch: int) -> tuple[int, float, int]:
    """(assignments received, wall seconds, claims sent) with ``agents`` simulated agents claiming at once."""
    async with _async_client(str(bench.client.base_url), 2 * agents + 4) as client:
        workers = []
        for index in range(agents):
            body = {"name": f"sim-{index}", "pool": pool, "slots": 1024}
            workers.append(check(await client.post("/api/v1/workers/register", json=body)).json()["worker_id"])
        stop = asyncio.Event()

        async def heartbeat(worker: str) -> None:
            while not stop.is_set():
                check(await client.post(f"/api/v1/workers/{worker}/heartbeat", json={"running": []}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)

        placed = claims = 0
        claim_body = {"wait_seconds": 0, "max_assignments": batch}

        async def agent(worker: str) -> None:
            nonlocal placed, claims
            while True:
                answer = check(await client.post(f"/api/v1/workers/{worker}/claim", json=claim_body)).json()
                claims += 1
                got = len(answer["assignments"])
                if got == 0:
                    return
                placed += got

        beats = [asyncio.create_task(heartbeat(worker)) for worker in workers]
        began = time.perf_counter()
        await asyncio.gather(*(agent(worker) for worker in workers))
        elapsed = time.perf_counter() - began
        stop.set()
        await asyncio.gather(*beats)
    return placed, elapsed, claims


def scheduler(bench: Bench) -> dict[str, float]:
    """Untimed: queue the jobs. Timed: the agents drain the queue."""
    _prepare(bench)
    sizes = bench.sizes
    suffix = uuid.uuid4().hex[:8]
    pool, queue = f"place-{suffix}", f"place-{suffix}"
    _pool(bench.client, pool, queue)
    base_url = str(bench.client.base_url)
    submit_seconds = asyncio.run(_queue_jobs(base_url, queue, sizes.compute_jobs))
    cpu = CpuMeter(bench).start()
    placed, elapsed, claims = asyncio.run(_place_all(bench, pool, sizes.compute_agents, sizes.compute_batch))
    cpu.stop()
    if placed != sizes.compute_jobs:
        raise RuntimeError(f"placed {placed} of {sizes.compute_jobs} queued jobs")
    # The placed jobs stay assigned to the simulated workers; the server is torn down after the suite.
    return {
        "placements_per_s": placed / elapsed,
        "placement_server_cpu_ms": cpu.server / placed * 1000,
        "placement_db_cpu_ms": cpu.database / placed * 1000,
        "placements_per_claim": placed / claims,
        "jobs_submitted_per_s": sizes.compute_jobs / submit_seconds,
        "compute_batch": sizes.compute_batch,
    }


DISPATCH_KEYS = (
    "dispatch_p50_ms",
    "dispatch_p95_ms",
    "dispatch_server_cpu_ms",
    "dispatch_db_cpu_ms",
    "agent_dispatch_p50_ms",
    "agent_dispatch_p95_ms",
    "agent_part_p50_ms",
)
SCHEDULER_KEYS = (
    "placements_per_s",
    "placement_server_cpu_ms",
    "placement_db_cpu_ms",
    "placements_per_claim",
    "jobs_submitted_per_s",
    "compute_batch",
)
WORKLOADS: list[Workload] = [
    Workload("dispatch", DISPATCH_KEYS, dispatch),
    Workload("scheduler", SCHEDULER_KEYS, scheduler),
]
