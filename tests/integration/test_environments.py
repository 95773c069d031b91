"""A recipe's ``requirements``: installed by real agents into cached environments, from PyPI, with ``uv``.

One live server for the module; each test runs its own ``runyard agent`` (own work dir, own pool
and queue), so every environment cache starts empty. Packages come from PyPI; uv's own download
cache (shared by the tests) keeps repeats fast.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runyard.client import Client
from tests.conftest import ServerPool, unique
from tests.support.agents import AgentProcess, make_recipe, start_agent
from tests.support.servers import LiveServer

# The module's server is shared: its tests run on one xdist worker.
pytestmark = pytest.mark.xdist_group("environments")
# Small pure-Python packages, one per environment a test needs of its own.
SMALL = ("six==1.16.0", "toml==0.10.2", "idna==3.7", "pyjokes==0.6.0")


@pytest.fixture(scope="module")
def live(server_pool: ServerPool) -> LiveServer:
    return server_pool.start_new("sqlite")


@pytest.fixture
def client(live: LiveServer) -> Iterator[Client]:
    with Client(live.url) as sdk:
        yield sdk


def _agent(
    agents: list[AgentProcess], live: LiveServer, client: Client, tmp_path: Path, **env: str
) -> tuple[AgentProcess, str]:
    pool, queue = unique("pool"), unique("q")
    client.put_pool(pool, queues=[queue])
    return start_agent(agents, live.url, pool, tmp_path / "agents", extra_env=env), queue


def _push(client: Client, tmp_path: Path, script: str, requirements: list[str]) -> str:
    name = unique("env")
    client.push_recipe(make_recipe(tmp_path, name, script, requirements=requirements), name=name)
    return name


def _logs(client: Client, job_id: str) -> list[dict[str, Any]]:
    return list(client.job_logs(job_id)["lines"])


def _text(client: Client, job_id: str) -> str:
    return "\n".join(line["line"] for line in _logs(client, job_id))


def _environments(agent: AgentProcess) -> list[str]:
    """Digests of the complete environments in the agent's cache."""
    root = agent.work_dir / agent.name / "envs"
    return sorted(marker.parent.name for marker in root.glob("*/.runyard-env.json"))


def _startup_seconds(client: Client, job_id: str) -> float:
    """From the job's assignment to the first line its own code printed."""
    assigned = next(event["time"] for event in client.job_events(job_id) if event["to_state"] == "assigned")
    first = next(line["ts"] for line in _logs(client, job_id) if line["stream"] == "stdout")
    return float(first - assigned) / 1000


def test_declared_mlflow_logs_to_the_attempts_run_and_a_second_job_reuses_the_environment(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent, queue = _agent(agents, live, client, tmp_path)
    script = """
    import sys
    print("python", sys.prefix, flush=True)
    import mlflow
    print("mlflow from", mlflow.__file__, flush=True)
    mlflow.log_metric("loss", 0.25)
    """
    name = _push(client, tmp_path, script, ["mlflow-skinny"])
    first = client.submit_job(name, queue=queue)
    done = client.wait_for_job(first["job_id"], timeout=300)
    text = _text(client, first["job_id"])
    assert done["state"] == "succeeded", text
    (digest,) = _environments(agent)
    # The job ran in its own environment, not in the agent's interpreter (which has mlflow too).
    assert f"python {agent.work_dir / agent.name / 'envs' / digest}" in text
    assert f"envs/{digest}/lib" in text
    assert "[environment] building environment" in text and "(built)" in text
    phase = [line for line in _logs(client, first["job_id"]) if line["line"].startswith("[environment]")]
    assert phase and all(line["stream"] == "system" for line in phase)

    (attempt,) = client.get_job_attempts(first["job_id"])
    run = httpx.get(f"{live.url}/api/2.0/mlflow/runs/get", params={"run_id": attempt["run_id"]}).json()["run"]
    assert {"key": "loss", "value": 0.25} in [
        {"key": metric["key"], "value": metric["value"]} for metric in run["data"]["metrics"]
    ]

    second = client.submit_job(name, queue=queue)
    assert client.wait_for_job(second["job_id"], timeout=120)["state"] == "succeeded"
    reused = _text(client, second["job_id"])
    assert "building environment" not in reused and "(reused)" in reused
    assert _environments(agent) == [digest]
    built_startup = _startup_seconds(client, first["job_id"])
    reused_startup = _startup_seconds(client, second["job_id"])
    for job in (first, second):
        assigned = next(e["time"] for e in client.job_events(job["job_id"]) if e["to_state"] == "assigned")
        for line in _logs(client, job["job_id"]):
            print(f"{(line['ts'] - assigned) / 1000:8.2f} {line['stream']} {line['line'][:150]}")
    ratio = built_startup / reused_startup
    print(f"start-up: built {built_startup:.2f} s, reused {reused_startup:.2f} s, ratio {ratio:.1f}")
    assert reused_startup < built_startup


def test_a_requirement_that_cannot_be_installed_fails_the_job_naming_it(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent, queue = _agent(agents, live, client, tmp_path)
    name = _push(client, tmp_path, "print('never')\n", ["six", "runyard-no-such-package-8c1f==1.0"])
    job = client.submit_job(name, queue=queue)
    done = client.wait_for_job(job["job_id"], timeout=120)
    assert done["state"] == "failed"
    assert done["reason"].startswith("environment: cannot install runyard-no-such-package-8c1f==1.0: "), done
    assert "never" not in _text(client, job["job_id"])
    assert _environments(agent) == []
    assert not list((agent.work_dir / agent.name / "envs").glob("[0-9a-f]*")), "a failed build leaves nothing"


@pytest.fixture
def silent_index() -> Iterator[str]:
    """A package index that accepts connections and never answers."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    yield f"http://127.0.0.1:{silent.getsockname()[1]}/simple"
    silent.close()


def _installers(requirement: str) -> list[int]:
    """Live installer processes whose requirement file holds ``requirement``."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        files = [part for part in cmdline if part.endswith(".requirements.txt")]
        try:
            if files and requirement in Path(files[0]).read_text():
                found.append(process.pid)
        except OSError:
            continue
    return found


def test_cancelling_a_job_during_its_install_stops_the_installer(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path, silent_index: str
) -> None:
    agent, queue = _agent(agents, live, client, tmp_path)
    name = _push(client, tmp_path, "print('never')\n", [f"--index-url {silent_index}", "runyard-cancelled==1.0"])
    job = client.submit_job(name, queue=queue)
    deadline = time.monotonic() + 60
    while not _installers("runyard-cancelled==1.0"):
        assert time.monotonic() < deadline, _text(client, job["job_id"])
        time.sleep(0.2)
    client.cancel_job(job["job_id"])
    done = client.wait_for_job(job["job_id"], timeout=60)
    assert done["state"] == "cancelled", done
    deadline = time.monotonic() + 10
    while _installers("runyard-cancelled==1.0") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _installers("runyard-cancelled==1.0") == []
    assert _environments(agent) == []


def test_an_install_that_hangs_is_stopped_at_the_timeout(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path, silent_index: str
) -> None:
    _agent_process, queue = _agent(agents, live, client, tmp_path, RUNYARD_AGENT_ENV_INSTALL_TIMEOUT_SECONDS="4")
    name = _push(client, tmp_path, "print('never')\n", [f"--index-url {silent_index}", "runyard-hangs==1.0"])
    started = time.monotonic()
    job = client.submit_job(name, queue=queue)
    done = client.wait_for_job(job["job_id"], timeout=60)
    assert done["state"] == "failed"
    assert done["reason"].startswith("environment: installing ") and "did not finish within 4 s" in done["reason"]
    assert time.monotonic() - started < 30
    assert _installers("runyard-hangs==1.0") == []


def test_two_jobs_needing_the_same_environment_at_once_build_it_once(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent, queue = _agent(agents, live, client, tmp_path)
    name = _push(client, tmp_path, "import six\nprint('six', six.__version__)\n", [SMALL[0]])
    jobs = [client.submit_job(name, queue=queue) for _ in range(2)]
    for job in jobs:
        assert client.wait_for_job(job["job_id"], timeout=120)["state"] == "succeeded"
    texts = [_text(client, job["job_id"]) for job in jobs]
    assert all("six 1.16.0" in text for text in texts), texts
    assert sum(text.count("[environment] building environment") for text in texts) == 1, texts
    assert len(_environments(agent)) == 1
    # They ran side by side: one waited for the other's build (or found it done) instead of building.
    other = next(text for text in texts if "[environment] building environment" not in text)
    assert "(reused)" in other


def test_least_recently_used_environments_are_evicted_but_never_one_a_running_job_uses(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    # A zero-size cache keeps nothing but the environments running jobs hold.
    agent, queue = _agent(agents, live, client, tmp_path, RUNYARD_AGENT_ENV_CACHE_MB="0")
    waits = """
    import os, time
    import toml
    print("started", flush=True)
    while not os.path.exists("go"):
        time.sleep(0.1)
    import toml.decoder  # still importable: its environment was not removed under it
    print("finished", toml.__version__)
    """
    holder = _push(client, tmp_path, waits, [SMALL[1]])
    running = client.submit_job(holder, queue=queue)
    deadline = time.monotonic() + 120
    while "started" not in _text(client, running["job_id"]):
        assert time.monotonic() < deadline, _text(client, running["job_id"])
        time.sleep(0.2)
    (held,) = _environments(agent)

    other = client.submit_job(_push(client, tmp_path, "import idna\n", [SMALL[2]]), queue=queue)
    assert client.wait_for_job(other["job_id"], timeout=120)["state"] == "succeeded"
    assert held in _environments(agent) and len(_environments(agent)) == 2

    (agent.work_dir / agent.name / "attempts" / f"{running['job_id']}-1" / "work" / "go").touch()
    final = client.wait_for_job(running["job_id"], timeout=60)
    assert final["state"] == "succeeded", _text(client, running["job_id"])
    assert "finished 0.10.2" in _text(client, running["job_id"])

    third = client.submit_job(_push(client, tmp_path, "import pyjokes\n", [SMALL[3]]), queue=queue)
    assert client.wait_for_job(third["job_id"], timeout=120)["state"] == "succeeded"
    remaining = _environments(agent)
    assert len(remaining) == 1 and held not in remaining
    marker = agent.work_dir / agent.name / "envs" / remaining[0] / ".runyard-env.json"
    assert json.loads(marker.read_text())["requirements"] == [SMALL[3]]


def test_pip_builds_the_environment_when_chosen_as_the_installer(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent, queue = _agent(agents, live, client, tmp_path, RUNYARD_AGENT_ENV_INSTALLER="pip")
    name = _push(client, tmp_path, "import six\nprint('six', six.__version__)\n", [SMALL[0]])
    job = client.submit_job(name, queue=queue)
    assert client.wait_for_job(job["job_id"], timeout=180)["state"] == "succeeded", _text(client, job["job_id"])
    text = _text(client, job["job_id"])
    assert "six 1.16.0" in text and "with pip" in text and "Successfully installed six-1.16.0" in text
    assert len(_environments(agent)) == 1
