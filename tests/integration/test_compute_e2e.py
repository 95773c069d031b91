"""Faults end to end, with real servers, real agents and real databases.

- an agent ``kill -9``ed mid-job: the attempt is ``lost``, the job is requeued and succeeds on another agent;
- the server restarted mid-run: the job keeps running and its final status is recorded;
- the database briefly unreachable: agents back off, recover, and keep taking work.

Each test starts private servers (short leases, restarts, a cut-able database connection) so the
faults never touch servers other tests share.
"""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from pathlib import Path

import pytest

from runyard.client import Client
from tests.conftest import ServerPool, unique
from tests.support.agents import AgentProcess, make_recipe, marked_processes, start_agent
from tests.support.servers import LiveServer, make_server
from tests.support.services import fresh_database
from tests.support.tcp_proxy import TcpProxy


def _start_agent(agents: list[AgentProcess], url: str, pool: str, tmp_path: Path) -> AgentProcess:
    return start_agent(agents, url, pool, tmp_path / "agents")


def _logs(client: Client, job_id: str) -> list[str]:
    return [line["line"] for line in client.job_logs(job_id)["lines"]]


def _wait_for_agent_log(fleet: list[AgentProcess], needles: tuple[str, ...], timeout: float) -> bool:
    """Whether any agent's log shows one of ``needles`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in agent.log_text() for agent in fleet for needle in needles):
            return True
        time.sleep(0.2)
    return False


def _wait_state(client: Client, job_id: str, states: set[str], timeout: float = 90.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            job = client.get_job(job_id)
            if job["state"] in states:
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_agent_killed_mid_job_is_lost_requeued_and_succeeds_elsewhere(
    backend: str, server_pool: ServerPool, agents: list[AgentProcess], tmp_path: Path
) -> None:
    server = server_pool.start_new(backend, extra_env={"RUNYARD_LEASE_SECONDS": "3"})
    client = Client(server.url)
    pool, queue = unique("pool"), unique("q")
    client.put_pool(pool, queues=[queue])
    marker = uuid.uuid4().hex
    name = unique("resilient")
    script = """
    import os, time
    print("attempt", os.environ["RUNYARD_ATTEMPT"], flush=True)
    if os.environ["RUNYARD_ATTEMPT"] == "1":
        time.sleep(600)
    print("done")
    """
    client.push_recipe(make_recipe(tmp_path, name, script, env={"TEST_MARKER": marker}), name=name)
    doomed = _start_agent(agents, server.url, pool, tmp_path)
    job = client.submit_job(name, queue=queue, retries=1)
    _wait_state(client, job["job_id"], {"running"})
    doomed.kill_hard()
    # The sandbox dies with its agent: nothing of attempt 1 keeps running.
    deadline = time.monotonic() + 15
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked_processes(marker) == []
    _start_agent(agents, server.url, pool, tmp_path)
    final = client.wait_for_job(job["job_id"], timeout=120)
    attempts = client.get_job_attempts(job["job_id"])
    assert final["state"] == "succeeded", (final, attempts)
    assert [attempt["state"] for attempt in sorted(attempts, key=lambda a: a["attempt"])] == ["lost", "succeeded"]
    assert "done" in _logs(client, job["job_id"])


def test_server_restarted_mid_run_job_keeps_running_and_final_status_is_recorded(
    server_pool: ServerPool, agents: list[AgentProcess], tmp_path: Path
) -> None:
    server = server_pool.start_new("sqlite")
    client = Client(server.url)
    pool, queue = unique("pool"), unique("q")
    client.put_pool(pool, queues=[queue])
    name = unique("steady")
    script = """
    import time
    for tick in range(8):
        print("tick", tick, flush=True)
        time.sleep(1)
    print("finished")
    """
    client.push_recipe(make_recipe(tmp_path, name, script), name=name)
    agent = _start_agent(agents, server.url, pool, tmp_path)
    job = client.submit_job(name, queue=queue)
    _wait_state(client, job["job_id"], {"running"})
    server.stop()
    time.sleep(3)  # the job runs on; the agent's log lines and heartbeats wait
    server.start()
    final = client.wait_for_job(job["job_id"], timeout=120)
    assert final["state"] == "succeeded", (final, agent.log_text())
    logs = _logs(client, job["job_id"])
    # Every line reached the server, in order, including those printed while it was down.
    assert [line for line in logs if line.startswith("tick")] == [f"tick {n}" for n in range(8)]
    assert logs[-1] == "finished"
    assert agent.process is not None and agent.process.poll() is None


def test_database_briefly_unreachable_agents_back_off_and_recover(agents: list[AgentProcess], tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_database("postgresql", str(tmp_path)))
        proxy = TcpProxy("127.0.0.1", 5432).start()
        stack.callback(proxy.close)
        proxied_url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        data_dir = tmp_path / "server"
        data_dir.mkdir()
        server: LiveServer = make_server(
            backend="postgresql",
            database_url=proxied_url,
            data_dir=data_dir,
            artifacts=str(data_dir / "artifacts"),
        )
        server.start()
        stack.callback(server.stop)
        client = Client(server.url)
        pool, queue = unique("pool"), unique("q")
        client.put_pool(pool, queues=[queue])
        name = unique("patient")
        script = """
        import time
        print("start", flush=True)
        time.sleep(6)
        print("end")
        """
        client.push_recipe(make_recipe(tmp_path, name, script), name=name)
        fleet = [_start_agent(agents, server.url, pool, tmp_path) for _ in range(2)]
        running = client.submit_job(name, queue=queue)
        _wait_state(client, running["job_id"], {"running"})
        proxy.cut()
        # The outage lasts at least 5 s and until an agent has met it: heartbeats come every
        # `heartbeat_seconds` the server hands out (10 s), so a fixed window may fall between two.
        time.sleep(5)
        noticed = _wait_for_agent_log(fleet, ("retrying", "failed"), timeout=30.0)
        proxy.restore()
        assert noticed, [agent.log_text() for agent in fleet]
        # The job that ran through the outage is recorded, with all its lines.
        final = client.wait_for_job(running["job_id"], timeout=120)
        assert final["state"] == "succeeded", [agent.log_text() for agent in fleet]
        lines = _logs(client, running["job_id"])
        assert lines.index("start") < lines.index("end")
        # The agents backed off while the database was gone and still take new work afterwards.
        for agent in fleet:
            assert agent.process is not None and agent.process.poll() is None
        after = [client.submit_job(name, queue=queue) for _ in range(2)]
        for job in after:
            assert client.wait_for_job(job["job_id"], timeout=120)["state"] == "succeeded"


def test_agent_reaped_while_frozen_registers_again_and_keeps_working(
    server_pool: ServerPool, agents: list[AgentProcess], tmp_path: Path
) -> None:
    server = server_pool.start_new("sqlite", extra_env={"RUNYARD_LEASE_SECONDS": "2"})
    client = Client(server.url)
    pool, queue = unique("pool"), unique("q")
    client.put_pool(pool, queues=[queue])
    name = unique("after-reap")
    client.push_recipe(make_recipe(tmp_path, name, "print('ran')\n"), name=name)
    agent = _start_agent(agents, server.url, pool, tmp_path)
    assert agent.process is not None
    agent.process.send_signal(signal.SIGSTOP)  # misses its heartbeats: the server reaps the worker
    time.sleep(8)
    agent.process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 30
    while "registering again" not in agent.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "registering again" in agent.log_text()
    job = client.submit_job(name, queue=queue)
    assert client.wait_for_job(job["job_id"], timeout=60)["state"] == "succeeded"
