"""The sandbox attacks of a recipe against a root agent, made as they were made, now failing.

A real ``runyard server`` (SQLite; the database plays no part in these) and real ``runyard agent``
processes run recipes that try to: lower their own isolation to read the server's database, other
processes' environments and write into the agent's virtualenv; fork past ``max_processes``; read
``/etc/shadow``; run a bundle swapped in the artifact store after it was pushed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runyard.agent.sandbox import LEVELS, available_levels
from runyard.client import Client
from tests.conftest import ServerPool, unique
from tests.support.agents import AgentProcess, make_recipe, start_agent
from tests.support.servers import LiveServer
from tests.support.services import require

AS_ROOT = os.geteuid() == 0
ISOLATING_HERE = [level for level in available_levels() if LEVELS[level].isolates_filesystem]


@pytest.fixture
def isolating_level() -> None:
    require(ISOLATING_HERE, "no filesystem-isolating sandbox level works here (scripts/test installs bubblewrap)")


needs_isolation = pytest.mark.usefixtures("isolating_level")


@pytest.fixture
def live(server_pool: ServerPool) -> LiveServer:
    return server_pool.get("sqlite", "local")


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


def _run(client: Client, tmp_path: Path, queue: str, script: str, **manifest: object) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    name = unique("attack")
    client.push_recipe(make_recipe(tmp_path, name, script, **manifest), name=name)
    job = client.submit_job(name, queue=queue)
    final = client.wait_for_job(job["job_id"], timeout=180)
    return final, [line["line"] for line in client.job_logs(job["job_id"])["lines"]]


def _found(logs: list[str]) -> str:
    return next((line for line in logs if line.startswith("FOUND")), "")


@needs_isolation
def test_a_recipe_asking_for_the_process_level_cannot_lower_isolation(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    """Under the default ``auto``, ``sandbox: {isolation: process}`` used to run unisolated, as root."""
    secret = f"host-secret-{uuid.uuid4().hex}"
    # A host process holding a secret in its environment (as the server holds its cookie secret).
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], env={**os.environ, "HOST_SECRET": secret}
    )
    database = live.database_url.removeprefix("sqlite:///")
    pth = Path(sysconfig.get_paths()["purelib"]) / f"runyard_attack_{uuid.uuid4().hex[:8]}.pth"
    try:
        _, queue = _agent(agents, live, client, tmp_path)
        script = f"""
            import glob, os
            found = {{}}
            try:
                with open({database!r}, "rb") as db:
                    found["db"] = "read " + repr(db.read(16))
            except OSError as error:
                found["db"] = type(error).__name__
            leaked = []
            for path in glob.glob("/proc/[0-9]*/environ"):
                try:
                    with open(path, "rb") as handle:
                        if {secret!r}.encode() in handle.read():
                            leaked.append(path)
                except OSError:
                    pass
            found["environ"] = leaked
            try:
                with open({str(pth)!r}, "w") as handle:
                    handle.write("import os\\n")
                found["pth"] = "written"
            except OSError as error:
                found["pth"] = type(error).__name__
            found["uid"] = os.getuid()
            print("FOUND", found)
            """
        final, logs = _run(client, tmp_path, queue, script, sandbox={"isolation": "process"})
        assert final["state"] == "succeeded", (final, logs)
        assert "in the process sandbox" not in logs[0], logs[0]
        assert any(f"in the {level} sandbox" in logs[0] for level in ISOLATING_HERE), logs[0]
        found = _found(logs)
        assert "'db': 'read" not in found, found
        assert "'environ': []" in found, found
        assert "'pth': 'written'" not in found, found
        assert not pth.exists()
        if AS_ROOT:
            assert "'uid': 0" not in found, found
    finally:
        holder.kill()
        holder.wait()
        pth.unlink(missing_ok=True)


FORK_BOMB = """
    import os, time
    children, refused = [], None
    for _ in range(400):
        try:
            pid = os.fork()
        except OSError as error:
            refused = error.errno
            break
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    try:
        with open("/etc/shadow") as shadow:
            shadow_state = "read %d bytes" % len(shadow.read())
    except OSError as error:
        shadow_state = type(error).__name__
    print("FOUND", {"forked": len(children), "refused": refused, "shadow": shadow_state, "uid": os.getuid()})
"""


def test_a_root_agent_runs_jobs_unprivileged_so_the_process_limit_and_root_only_files_hold(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    """With ``max_processes: 16`` a root agent used to let 400 of 400 forks through, and /etc/shadow was readable."""
    require(AS_ROOT, "the attack is made against an agent running as root")
    agent, queue = _agent(agents, live, client, tmp_path)
    assert "jobs run as uid" in agent.log_text()
    final, logs = _run(client, tmp_path, queue, FORK_BOMB, sandbox={"max_processes": 16})
    assert final["state"] == "succeeded", (final, logs)
    found = eval(_found(logs).removeprefix("FOUND "))  # the job's own dict literal
    assert found["forked"] < 16, found
    assert found["refused"] == 11, found  # EAGAIN: the process limit
    assert found["shadow"] == "PermissionError", found
    assert found["uid"] != 0


def test_run_as_uid_65534_starts_and_runs_jobs_as_that_user(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    """It used to die at start ("no-network mode needs …") when the interpreter was not readable by 65534."""
    require(AS_ROOT, "RUN_AS_UID applies only to a root agent")
    agent, queue = _agent(agents, live, client, tmp_path, RUNYARD_SANDBOX_RUN_AS_UID="65534")
    assert "jobs run as uid 65534" in agent.log_text()
    final, logs = _run(client, tmp_path, queue, 'import os\nprint("FOUND", os.getuid())\n')
    assert final["state"] == "succeeded", (final, logs, agent.log_text())
    assert _found(logs) == "FOUND 65534"


def _bundle_of_size(folder: Path, code: str, size: int) -> bytes:
    """A ``.tar.gz`` of ``folder`` whose main.py runs ``code``, padded with a comment to exactly ``size`` bytes."""
    stream = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(100))
    for padding in range(len(stream)):
        (folder / "main.py").write_text(f"{code}\n# {stream[:padding]}\n")
        for level in range(1, 10):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=level) as bundle:
                for path in sorted(folder.iterdir()):
                    bundle.add(path, arcname=path.name)
            if len(buffer.getvalue()) == size:
                return buffer.getvalue()
    raise AssertionError(f"no padding gives a {size}-byte bundle")


def test_a_bundle_swapped_in_the_artifact_store_is_refused(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    _, queue = _agent(agents, live, client, tmp_path)
    name = unique("swapped")
    # Room for the attacker's version to match its size: a long comment in the pushed one.
    filler = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(40))
    folder = make_recipe(tmp_path, name, f'print("original ran")\n# {filler}\n')
    version = client.push_recipe(folder, name=name)["recipe"]
    digest = str(version["digest"]).split(":", 1)[1]
    stored = Path(live.artifacts) / "recipes" / name / f"{digest}.tar.gz"
    assert stored.is_file()
    # The attacker's bundle: same manifest, another main.py, of the stored bundle's exact size (the
    # server announces the pushed size), written over the stored file.
    stored.write_bytes(_bundle_of_size(folder, 'print("SWAPPED RAN")', stored.stat().st_size))
    job = client.submit_job(name, queue=queue)
    final = client.wait_for_job(job["job_id"], timeout=120)
    logs = [line["line"] for line in client.job_logs(job["job_id"])["lines"]]
    assert final["state"] == "failed", (final, logs)
    assert "does not match its digest" in str(final["reason"]), final
    assert f"expected sha256:{digest}" in str(final["reason"])
    assert "SWAPPED RAN" not in logs


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_local_agent_that_cannot_start_is_reaped_and_its_pool_shown_degraded(
    server_pool: ServerPool, backend: str, tmp_path: Path
) -> None:
    """The local agent used to stay a zombie while ``/ready`` said ``ready`` and jobs queued forever."""
    # A level this agent cannot provide (its PATH has no bwrap): the agent exits at start.
    live = server_pool.start_new(
        backend,
        extra_env={
            "RUNYARD_LOCAL_POOL": "true",
            "RUNYARD_SANDBOX_ISOLATION": "bubblewrap",
            "PATH": "/usr/sbin:/sbin",
        },
    )
    assert live.process is not None
    deadline = time.monotonic() + 60
    while "exited with code" not in live.log_text():
        assert time.monotonic() < deadline, live.log_text()
        time.sleep(0.1)
    log = live.log_text()
    assert "cannot start the agent" in log and "isolation level 'bubblewrap' is not available" in log, log
    assert "bwrap is not installed" in log, log
    # Reaped: the server has no zombie child left.
    import psutil

    children = psutil.Process(live.process.pid).children()
    assert [child.pid for child in children if child.status() == psutil.STATUS_ZOMBIE] == []

    ready = httpx.get(f"{live.url}/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "no live worker" in ready.json()["degraded_pools"]["local"]
    metrics = httpx.get(f"{live.url}/metrics").text
    assert 'runyard_pool_degraded{pool="local"} 1.0' in metrics
    assert 'runyard_pool_workers{pool="local"} 0.0' in metrics
    listing = subprocess.run(
        [sys.executable, "-m", "runyard", "pool", "ls", "--server", live.url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "400"},
    ).stdout
    assert "degraded" in listing, listing
    # Any pool whose jobs wait with no live worker is degraded too, with the count.
    with Client(live.url) as sdk:
        pool, queue, name = unique("pool"), unique("q"), unique("waiting")
        sdk.put_pool(pool, queues=[queue])
        sdk.push_recipe(make_recipe(tmp_path, name, "print(1)\n"), name=name)
        sdk.submit_job(name, queue=queue)
        listed = {item["name"]: item for item in sdk.list_pools()}
    assert listed[pool]["status"] == "degraded"
    assert listed[pool]["problem"] == "no live worker; 1 queued job(s) of the queues it serves wait for one"


NETWORK_SCAN = """
    import os, socket
    import mlflow
    def reach(host, port):
        try:
            socket.create_connection((host, port), timeout=5).close()
            return "open"
        except OSError as error:
            return type(error).__name__
    mlflow.log_metric("reached_server", 1.0)     # the tracking server, through the address the agent gave
    print("FOUND", {
        "postgres": reach("127.0.0.1", 5432),
        "redis": reach("127.0.0.1", 6379),
        "pypi": reach("pypi.org", 443),
    })
"""


@needs_isolation
def test_a_networked_job_reaches_the_internet_and_the_server_but_not_host_loopback_services(
    live: LiveServer, client: Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    """With ``network: true`` a job used to share the host's loopback: PostgreSQL, Redis, the server's API."""
    require(shutil.which("pasta"), "pasta (Debian: passt) is not installed; scripts/test installs it")
    agent, queue = _agent(agents, live, client, tmp_path)
    assert "a private network (pasta)" in agent.log_text(), agent.log_text()
    final, logs = _run(client, tmp_path, queue, NETWORK_SCAN)
    assert final["state"] == "succeeded", (final, logs)
    found = eval(_found(logs).removeprefix("FOUND "))  # the job's own dict literal
    # PostgreSQL and Redis listen on the host's 127.0.0.1 (the test suite uses both).
    assert found["postgres"] == "ConnectionRefusedError", found
    assert found["redis"] == "ConnectionRefusedError", found
    assert found["pypi"] == "open", found
    import mlflow

    run = mlflow.MlflowClient(tracking_uri=live.url).get_run(str(final["run_id"]))
    assert run.data.metrics["reached_server"] == 1.0
