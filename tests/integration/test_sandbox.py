"""Each sandbox guarantee of docs/sandbox.md, proven on every isolation level that works on this machine.

The levels are probed at collection time (``available_levels``): the ``process`` level always runs;
``namespace`` needs util-linux ``unshare`` and unprivileged user namespaces; ``bubblewrap`` needs
``bwrap``. Guarantees only some levels give (filesystem isolation, no-network mode) are tested on
exactly those levels, and the levels that cannot give them are tested to refuse.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from runyard.agent.sandbox import LEVELS, Limits, SandboxError, available_levels, choose
from runyard.agent.sandbox.tree import processes_of
from tests.integration.sandbox_helpers import PYTHON, run_job, start_job

LEVELS_HERE = available_levels()
ISOLATING = [level for level in LEVELS_HERE if LEVELS[level].isolates_filesystem]
NON_ISOLATING = [level for level in LEVELS_HERE if not LEVELS[level].isolates_filesystem]
NOBODY = (65534, 65534)
# RLIMIT_NPROC never applies to processes of host root (not even inside a user namespace), so as
# root the process-count limit holds only for jobs run as an unprivileged user (run_as): the
# process level does that with any command; the namespace levels need the agent's interpreter to
# be readable by that user, which it is not on every machine (docs/sandbox.md).
NPROC_RUN_AS = NOBODY if os.geteuid() == 0 else None
NPROC_LEVELS = LEVELS_HERE if NPROC_RUN_AS is None else ["process"]


def _marked_processes(marker: str) -> list[int]:
    """Host pids of processes carrying ``SANDBOX_TEST_MARKER=marker`` in their environment."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("SANDBOX_TEST_MARKER") == marker and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


ESCAPING_GRANDCHILD = textwrap.dedent(
    """
    import os, time
    if os.fork() == 0:
        os.setsid()                      # leave the job's session and process group
        if os.fork() == 0:
            time.sleep(600)              # the grandchild, re-parented to init once its parent exits
        os._exit(0)
    print("started", flush=True)
    time.sleep(600)
    """
)


def test_auto_picks_the_strongest_level_that_works() -> None:
    assert "process" in LEVELS_HERE
    assert choose("auto").name == LEVELS_HERE[0]


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_job_environment_holds_no_agent_secret(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("RUNYARD_AGENT_TOKEN", secret)
    monkeypatch.setenv("RUNYARD_BACKEND_STORE_URI", f"postgresql://runyard:{secret}@db/runyard")
    # A process standing in for the agent, holding the secrets in its environment as the agent does.
    holder = subprocess.Popen(
        [sys.executable, "-c", "from runyard.agent.worker import protect_own_environment as p; p(); input()"],
        env={**os.environ},
        stdin=subprocess.PIPE,
    )
    try:
        # The job's own environment, and every other process's environment it can read.
        scan = f"env; for f in /proc/[0-9]*/environ; do grep -l {secret} $f 2>/dev/null; done; echo scanned"
        # As root, a process-level job could read any process's environment: the agent runs it as an
        # unprivileged user (run_as), which this test does too.
        run_as = NOBODY if (os.geteuid() == 0 and level in NON_ISOLATING) else None
        outcome, stdout, stderr = run_job(
            level, tmp_path, argv=["/bin/sh", "-c", scan], run_as=run_as, declared={"MY_SETTING": "declared"}
        )
    finally:
        holder.kill()
        holder.wait()
    assert outcome.state == "succeeded", stderr
    assert "scanned" in stdout
    assert secret not in stdout
    env_names = {line.split("=", 1)[0] for line in stdout.splitlines() if "=" in line}
    assert "AWS_SECRET_ACCESS_KEY" not in env_names
    assert "RUNYARD_AGENT_TOKEN" not in env_names
    assert "RUNYARD_BACKEND_STORE_URI" not in env_names
    assert "MLFLOW_TRACKING_TOKEN=job-scoped-token" in stdout
    assert "MY_SETTING=declared" in stdout


def test_agent_is_not_dumpable_after_protecting_its_environment() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ctypes; from runyard.agent.worker import protect_own_environment as p; p(); "
            "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0"  # PR_GET_DUMPABLE


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_allocating_past_the_memory_limit_fails_with_memory_limit(level: str, tmp_path: Path) -> None:
    outcome, stdout, stderr = run_job(
        level,
        tmp_path,
        script="block = bytearray(700 * 1024 * 1024)\nprint('allocated')\n",
        limits=Limits(memory_limit_mb=300, timeout_seconds=120),
    )
    assert (outcome.state, outcome.reason) == ("failed", "memory limit"), stderr
    assert "allocated" not in stdout
    assert "MemoryError" in stderr


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_memory_within_the_limit_succeeds(level: str, tmp_path: Path) -> None:
    outcome, stdout, stderr = run_job(
        level,
        tmp_path,
        script="block = bytearray(50 * 1024 * 1024)\nprint('allocated')\n",
        limits=Limits(memory_limit_mb=400, timeout_seconds=120),
    )
    assert outcome.state == "succeeded", stderr
    assert "allocated" in stdout


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_cancel_kills_the_whole_tree_including_an_escaped_grandchild(level: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    job = start_job(level, tmp_path, script=ESCAPING_GRANDCHILD, declared={"SANDBOX_TEST_MARKER": marker})
    # The job process and its setsid'ed grandchild are both running.
    _wait_for(lambda: len(_marked_processes(marker)) >= 2)
    pids = _marked_processes(marker)
    job.process.kill("cancelled by user")
    outcome, _, stderr = job.finish()
    assert (outcome.state, outcome.reason) == ("cancelled", "cancelled by user"), stderr
    assert _marked_processes(marker) == []
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert processes_of(job.process.pid, job.process.sandbox_id) == []


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_wall_clock_timeout_kills_the_tree(level: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    outcome, _, stderr = run_job(
        level,
        tmp_path,
        script=ESCAPING_GRANDCHILD,
        limits=Limits(timeout_seconds=3),
        declared={"SANDBOX_TEST_MARKER": marker},
    )
    assert (outcome.state, outcome.reason) == ("failed", "timeout"), stderr
    assert time.monotonic() - started < 30
    assert _marked_processes(marker) == []


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_cpu_time_limit(level: str, tmp_path: Path) -> None:
    outcome, _, stderr = run_job(
        level, tmp_path, script="while True:\n    pass\n", limits=Limits(cpu_seconds=1, timeout_seconds=60)
    )
    assert (outcome.state, outcome.reason) == ("failed", "cpu time limit"), stderr


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_file_size_limit_python_job(level: str, tmp_path: Path) -> None:
    outcome, _, stderr = run_job(
        level,
        tmp_path,
        script="open('big.bin', 'wb').write(b'x' * 5_000_000)\n",
        limits=Limits(max_file_size_mb=1, timeout_seconds=60),
    )
    assert (outcome.state, outcome.reason) == ("failed", "file size limit"), stderr


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_file_size_limit_command_job(level: str, tmp_path: Path) -> None:
    outcome, _, stderr = run_job(
        level,
        tmp_path,
        argv=["/bin/sh", "-c", "exec head -c 5000000 /dev/zero > big.bin"],
        limits=Limits(max_file_size_mb=1, timeout_seconds=60),
    )
    assert (outcome.state, outcome.reason) == ("failed", "file size limit"), stderr


@pytest.mark.parametrize("level", NPROC_LEVELS)
def test_process_count_limit(level: str, tmp_path: Path) -> None:
    script = "n=0; for i in $(seq 1 40); do sleep 5 & n=$((n+1)); done; echo started $n"
    outcome, stdout, stderr = run_job(
        level,
        tmp_path,
        argv=["/bin/sh", "-c", script],
        limits=Limits(max_processes=8, timeout_seconds=60),
        run_as=NPROC_RUN_AS,
    )
    assert "started 40" not in stdout
    assert "fork" in stderr.lower(), stderr
    assert outcome.state == "failed"


@pytest.mark.parametrize("level", ISOLATING)
def test_filesystem_isolation(level: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("host secret")
    outside.chmod(0o644)
    script = textwrap.dedent(
        f"""
        import os
        def attempt(action):
            try:
                action()
                return "allowed"
            except OSError as error:
                return type(error).__name__
        print("read-outside", attempt(lambda: open({str(outside)!r}).read()))
        print("write-usr", attempt(lambda: open("/usr/runyard-test", "w")))
        print("write-etc", attempt(lambda: open("/etc/runyard-test", "w")))
        print("write-work", attempt(lambda: open("in-work.txt", "w").write("ok")))
        print("write-output", attempt(lambda: open(os.environ["RUNYARD_OUTPUT_DIR"] + "/o.txt", "w").write("ok")))
        print("write-tmp", attempt(lambda: open("/tmp/t.txt", "w").write("ok")))
        print("read-system", attempt(lambda: open("/etc/os-release").read()))
        print("processes", len([p for p in os.listdir("/proc") if p.isdigit()]))
        """
    )
    outcome, stdout, stderr = run_job(level, tmp_path, script=script)
    assert outcome.state == "succeeded", stderr
    lines = dict(line.split(" ", 1) for line in stdout.splitlines())
    assert lines["read-outside"] == "FileNotFoundError"
    assert lines["write-usr"] != "allowed"
    assert lines["write-etc"] != "allowed"
    assert lines["write-work"] == "allowed"
    assert lines["write-output"] == "allowed"
    assert lines["write-tmp"] == "allowed"
    assert lines["read-system"] == "allowed"
    # Its own PID namespace: only the sandbox's init(s) and the job itself.
    assert int(lines["processes"]) <= 4


@pytest.mark.parametrize("level", NON_ISOLATING)
def test_process_level_cannot_enforce_no_network(level: str) -> None:
    with pytest.raises(SandboxError, match="no-network"):
        choose(level, need_network_isolation=True)


@pytest.mark.parametrize("level", [level for level in LEVELS_HERE if LEVELS[level].enforces_network])
@pytest.mark.parametrize(("network", "handed_over"), [(False, False), (False, True), (True, False), (True, True)])
def test_no_network_mode_and_host_loopback(level: str, network: bool, handed_over: bool, tmp_path: Path) -> None:
    """No network: nothing of the host. Network: host loopback only on the port the agent hands over (pasta)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        script = textwrap.dedent(
            f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                print("connected")
            except OSError as error:
                print("blocked", type(error).__name__)
            server = socket.socket()
            server.bind(("127.0.0.1", 0))        # loopback of its own still works
            server.listen(1)
            print("loopback ok")
            """
        )
        outcome, stdout, stderr = run_job(
            level, tmp_path, script=script, network=network, loopback_ports=[port] if handed_over else []
        )
    assert outcome.state == "succeeded", stderr
    private_network = shutil.which("pasta") is not None
    reachable = network and (handed_over or not private_network)
    assert ("connected" in stdout) is reachable, stdout
    assert "loopback ok" in stdout


@pytest.mark.parametrize("level", LEVELS_HERE)
def test_exit_code_and_success(level: str, tmp_path: Path) -> None:
    outcome, stdout, _ = run_job(level, tmp_path, argv=["/bin/sh", "-c", "echo hello; exit 3"])
    assert (outcome.state, outcome.exit_code, outcome.reason) == ("failed", 3, "exit code 3")
    assert stdout == "hello\n"
    outcome, _, _ = run_job(level, tmp_path, argv=[PYTHON, "-c", "print('ok')"])
    assert (outcome.state, outcome.exit_code) == ("succeeded", 0)


def test_ci_machine_offers_every_isolation_level() -> None:
    # In CI every level must be tested: a machine that silently lost one would test less and still pass.
    from tests.support.services import in_ci

    if in_ci():
        assert set(LEVELS_HERE) == set(LEVELS), (
            f"isolation levels available: {LEVELS_HERE}; install bubblewrap/util-linux"
        )
    else:
        assert "process" in LEVELS_HERE
