"""The README's "Run a recipe" commands, as written, on a fresh install and a fresh data directory.

"Fresh" means what a new user has after ``./scripts/run``: a ``.venv`` with runyard and its runtime
dependencies only (no development extras, so no ``mlflow`` beside the agent), and an empty data
directory. The install is made with uv (what ``scripts/bootstrap`` does with pip, faster) into a
copy of ``scripts/``, so ``./scripts/run`` itself runs unchanged and finds runyard installed.

The same server then shows the local pool's console and is stopped like a terminal's Ctrl-C does.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from uv import find_uv_bin

from tests.support.servers import wait_until_ready
from tests.support.services import free_port

# One fresh install for the module: its tests run on one xdist worker.
pytestmark = pytest.mark.xdist_group("readme-flow")
REPO = Path(__file__).resolve().parents[2]
SECTION = "### Run a recipe on the embedded compute pool"


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split(SECTION, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@dataclass
class FreshMachine:
    root: Path
    env: dict[str, str]
    url: str
    server: subprocess.Popen[bytes]
    console: Path

    def console_text(self) -> str:
        return self.console.read_text(errors="replace")


def _fresh_install(root: Path) -> None:
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    uv = str(find_uv_bin())
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([uv, "venv", "--quiet", "--python", base, str(root / ".venv")], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(root / ".venv" / "bin" / "python"), str(REPO)],
        check=True,
        timeout=600,
    )
    # What scripts/bootstrap leaves after installing: it skips the install from now on.
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (root / ".venv" / ".runyard-install-run").write_text(f"{digest}\n")


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshMachine]:
    root = tmp_path_factory.mktemp("fresh")
    _fresh_install(root)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RUNYARD_", "MLFLOW_"))}
    env.update({"RUNYARD_DATA_DIR": str(root / "data"), "RUNYARD_PORT": str(port)})
    first, *_rest = readme_commands()
    assert first.split("#")[0].strip() == "./scripts/run &", first
    console = root / "console.log"
    with console.open("ab") as output:
        server = subprocess.Popen(
            ["bash", "-c", "./scripts/run"],
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    fresh = FreshMachine(root, {**env, "RUNYARD_SERVER_URL": url}, url, server, console)
    try:
        wait_until_ready(url, server, console, 120)
        yield fresh
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


# The first install of mlflow (and the compilation of its bytecode) takes minutes on a busy machine.
@pytest.mark.timeout(900)
def test_readme_recipe_commands_work_as_written_on_a_fresh_machine(machine: FreshMachine) -> None:
    _first, *commands = readme_commands()
    fresh_python = machine.root / ".venv" / "bin" / "python"
    has_mlflow = subprocess.run([str(fresh_python), "-c", "import mlflow"], capture_output=True)
    assert has_mlflow.returncode != 0, "the fresh install must not come with mlflow"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        cwd=machine.root,
        env=machine.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{machine.console_text()}"
    assert "hi" in done.stdout.splitlines()
    # The install's own phase of the log, by uv from the runtime dependencies.
    assert re.search(r"\[environment\] building environment \w+ with uv", done.stdout), done.stdout
    assert re.search(r"job \d+ succeeded", done.stdout), done.stdout
    jobs = httpx.get(f"{machine.url}/api/v1/jobs").json()["jobs"]
    (job,) = jobs
    (attempt,) = httpx.get(f"{machine.url}/api/v1/jobs/{job['job_id']}").json()["attempts"]
    run = httpx.get(f"{machine.url}/api/2.0/mlflow/runs/get", params={"run_id": attempt["run_id"]}).json()["run"]
    assert [(metric["key"], metric["value"]) for metric in run["data"]["metrics"]] == [("loss", 0.1)]


def test_local_pool_console_is_quiet_and_ctrl_c_stops_the_agent_first_quickly(machine: FreshMachine) -> None:
    deadline = time.monotonic() + 120
    while "registered as" not in machine.console_text():
        assert time.monotonic() < deadline, machine.console_text()
        time.sleep(0.2)
    # Long enough for several heartbeats and claims of the local agent.
    time.sleep(12)
    console = machine.console_text()
    assert "HTTP Request" not in console, console
    agent_pids = [int(pid) for pid in re.findall(r"local compute pool: agent pid (\d+)", console)]
    started = time.monotonic()
    # A terminal's Ctrl-C: SIGINT to the foreground process group (the server's).
    os.killpg(machine.server.pid, signal.SIGINT)
    machine.server.wait(30)
    elapsed = time.monotonic() - started
    console = machine.console_text()
    assert elapsed < 5, f"stopping took {elapsed:.1f} s:\n{console}"
    assert "deregistration failed" not in console, console
    stopped, shutdown = console.index("agent stopped"), console.index("Shutting down")
    assert stopped < shutdown, "the agent stops (and deregisters) before the server stops serving"
    for pid in agent_pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_log_level_applies_to_the_server_and_its_local_agent(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RUNYARD_", "MLFLOW_"))}
    env["RUNYARD_AGENT_HEARTBEAT_SECONDS"] = "1"
    console = tmp_path / "console.log"
    argv = [sys.executable, "-m", "runyard", "server", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with console.open("ab") as output:
        server = subprocess.Popen(
            [*argv, "--log-level", "debug"], env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", server, console, 60)
        # The agent's own HTTP requests (silenced below debug) show: the level reached it.
        deadline = time.monotonic() + 60
        while not re.search(r"HTTP Request: POST \S*/heartbeat", console.read_text(errors="replace")):
            assert time.monotonic() < deadline, console.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(30)
