"""Sandbox and agent logic that needs no process: exit classification, limits, levels, environment, argv."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path

import pytest

from runyard.agent.attempt import effective_limits
from runyard.agent.backoff import Backoff
from runyard.agent.entrypoint import entrypoint_argv, parameter_arguments
from runyard.agent.environment import job_environment
from runyard.agent.gpus import GpuSpecError, discover, parse_gpus
from runyard.agent.sandbox import Limits, SandboxError, stronger
from runyard.agent.sandbox.outcome import FILE_SIZE_MARKER, MEMORY_MARKER, SANDBOX_ERROR_MARKER, classify
from runyard.agent.sandbox.paths import read_only_paths
from runyard.settings import SandboxSettings


def _classify(returncode: int, tmp_path: Path, *, killed_for: str | None = None, wrapped: bool = False, **limits):  # type: ignore[no-untyped-def]
    return classify(returncode, killed_for=killed_for, limits=Limits(**limits), control_dir=tmp_path, wrapped=wrapped)


class TestOutcome:
    def test_success_and_exit_codes(self, tmp_path: Path) -> None:
        assert _classify(0, tmp_path).report() == {"state": "succeeded", "exit_code": 0}
        assert _classify(3, tmp_path).report() == {"state": "failed", "exit_code": 3, "reason": "exit code 3"}

    def test_a_kill_the_agent_ordered_wins(self, tmp_path: Path) -> None:
        (tmp_path / MEMORY_MARKER).touch()
        cancelled = _classify(-signal.SIGKILL, tmp_path, killed_for="cancelled by user")
        assert (cancelled.state, cancelled.reason, cancelled.exit_code) == ("cancelled", "cancelled by user", 137)
        assert _classify(-9, tmp_path, killed_for="timeout").report()["state"] == "failed"
        assert _classify(-9, tmp_path, killed_for="agent shutdown").reason == "agent shutdown"
        assert _classify(-9, tmp_path, killed_for="inactivity").state == "failed"

    def test_runner_markers(self, tmp_path: Path) -> None:
        (tmp_path / MEMORY_MARKER).touch()
        assert _classify(1, tmp_path).reason == "memory limit"
        (tmp_path / MEMORY_MARKER).unlink()
        (tmp_path / FILE_SIZE_MARKER).touch()
        assert _classify(1, tmp_path).reason == "file size limit"
        # A job that caught the error and succeeded anyway succeeded.
        assert _classify(0, tmp_path).state == "succeeded"

    def test_sandbox_error_marker(self, tmp_path: Path) -> None:
        (tmp_path / SANDBOX_ERROR_MARKER).write_text("cannot build the namespace sandbox: mount: EPERM")
        assert _classify(126, tmp_path).reason == "sandbox error: cannot build the namespace sandbox: mount: EPERM"

    def test_signals(self, tmp_path: Path) -> None:
        assert _classify(-signal.SIGXCPU, tmp_path).reason == "cpu time limit"
        assert _classify(-signal.SIGXFSZ, tmp_path).reason == "file size limit"
        # SIGKILL the agent did not send: the OOM killer.
        assert _classify(-signal.SIGKILL, tmp_path).reason == "memory limit"
        assert _classify(-signal.SIGSEGV, tmp_path, memory_limit_mb=100).reason == "memory limit"
        assert _classify(-signal.SIGSEGV, tmp_path).reason == f"exit code {128 + signal.SIGSEGV}"

    def test_wrapped_launchers_report_signals_as_128_plus_n(self, tmp_path: Path) -> None:
        assert _classify(128 + signal.SIGXCPU, tmp_path, wrapped=True).reason == "cpu time limit"
        assert _classify(128 + signal.SIGXCPU, tmp_path, wrapped=False).reason == f"exit code {128 + signal.SIGXCPU}"


class TestLimits:
    def test_job_limits_are_capped_by_the_agent(self) -> None:
        settings = SandboxSettings(memory_limit_mb=1000, timeout_seconds=60, max_processes=100)
        assignment = {
            "resources": {"memory_mb": 4000, "timeout_seconds": 30},
            "sandbox": {"max_processes": 500, "cpu_seconds": 10, "max_file_size_mb": None},
        }
        limits = effective_limits(assignment, settings)
        assert limits == Limits(
            memory_limit_mb=1000, cpu_seconds=10, max_processes=100, max_file_size_mb=None, timeout_seconds=30
        )

    def test_gpu_jobs_get_no_address_space_limit(self) -> None:
        limits = effective_limits({"gpus": ["0"], "resources": {"memory_mb": 4000}}, SandboxSettings())
        assert limits.memory_limit_mb is None

    def test_rlimits(self) -> None:
        from runyard.agent.sandbox.limits import rlimits_for

        pairs = dict(rlimits_for(Limits(memory_limit_mb=10, cpu_seconds=5, max_processes=7, max_file_size_mb=1)))
        assert pairs[resource.RLIMIT_AS] == (10 * 1024 * 1024, 10 * 1024 * 1024)
        assert pairs[resource.RLIMIT_CPU] == (5, 7)
        assert pairs[resource.RLIMIT_NPROC] == (7, 7)
        assert pairs[resource.RLIMIT_FSIZE] == (1024 * 1024, 1024 * 1024)
        assert pairs[resource.RLIMIT_CORE] == (0, 0)


def test_a_requested_level_only_raises_the_operators() -> None:
    assert stronger("process", "bubblewrap") == "bubblewrap"
    assert stronger("namespace", "process") == "namespace"
    assert stronger("bubblewrap", "process") == "bubblewrap"
    # A recipe's "auto" is no preference: the operator's level stands.
    assert stronger("namespace", "auto") == "namespace"


def test_read_only_paths_cover_the_interpreter_without_duplicates() -> None:
    paths = read_only_paths()
    assert "/usr" in paths
    assert any(sys.prefix == path or sys.prefix.startswith(path + "/") for path in paths)
    for path in paths:
        assert not any(path.startswith(other + "/") for other in paths if other != path)


def test_job_environment_is_built_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "agent-secret")
    env = job_environment(
        tracking_uri="http://server:5050",
        run_id="r1",
        experiment_id="7",
        token="job-token",
        job_id="j-1",
        attempt=2,
        parameters={"lr": 0.1},
        gpus=["2", "3"],
        work_dir=tmp_path / "work",
        output_dir=tmp_path / "output",
        tmp_dir=tmp_path / "tmp",
        declared={"MY_VAR": "x", "MLFLOW_RUN_ID": "hijack", "RUNYARD_JOB_ID": "hijack"},
    )
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["MLFLOW_TRACKING_URI"] == "http://server:5050"
    assert env["MLFLOW_RUN_ID"] == "r1"
    assert env["MLFLOW_TRACKING_TOKEN"] == "job-token"
    assert env["RUNYARD_JOB_ID"] == "j-1"
    assert env["RUNYARD_ATTEMPT"] == "2"
    assert json.loads(env["RUNYARD_PARAMS"]) == {"lr": 0.1}
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert env["HOME"] == str(tmp_path / "work")
    assert env["MY_VAR"] == "x"


def test_entrypoint_argv(tmp_path: Path) -> None:
    assert parameter_arguments({"lr": 0.01, "name": "x", "flag": True}) == [
        "--lr", "0.01", "--name", "x", "--flag", "true",
    ]  # fmt: skip
    argv = entrypoint_argv({"kind": "python", "target": "train.py"}, {"lr": 1}, tmp_path)
    assert argv[0] == sys.executable
    assert argv[2:] == [str(tmp_path / "runner.py"), str(tmp_path), "python", "train.py", "--lr", "1"]
    assert (tmp_path / "runner.py").is_file()
    assert entrypoint_argv({"kind": "command", "target": ["bash", "run.sh"]}, {"x": 1}, tmp_path) == ["bash", "run.sh"]
    with pytest.raises(SandboxError, match="unsupported entrypoint"):
        entrypoint_argv({"kind": "docker", "target": "x"}, {}, tmp_path)


def test_gpu_specs() -> None:
    assert parse_gpus("0,1,2,3") == ["0", "1", "2", "3"]
    assert parse_gpus("none") == []
    assert parse_gpus("auto") == discover()
    with pytest.raises(GpuSpecError):
        parse_gpus("0,0")
    with pytest.raises(GpuSpecError):
        parse_gpus("0,,1")


def test_gpu_discovery_degrades_to_none_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    import runyard.agent.gpus as gpus

    # This machine has no NVIDIA driver; make sure neither NVML nor nvidia-smi can be found.
    monkeypatch.setattr(gpus.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert gpus.discover() == []


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(0 < delay <= 8.0 for delay in delays)
    assert delays[-1] >= 4.0
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_the_agent_computes_a_bundles_digest_as_the_server_did(tmp_path: Path) -> None:
    from runyard.agent.bundles import content_digest
    from runyard.client._recipes import make_bundle
    from runyard.services.recipes import parse_bundle

    folder = tmp_path / "recipe"
    (folder / "pkg").mkdir(parents=True)
    (folder / "runyard.yaml").write_text("name: digest-check\nentrypoint: main.py\n")
    (folder / "main.py").write_text("print('hi')\n")
    (folder / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (folder / "pkg" / "run.sh").chmod(0o755)
    archive = tmp_path / "bundle.tar.gz"
    archive.write_bytes(make_bundle(folder))
    with archive.open("rb") as handle:
        assert content_digest(archive) == parse_bundle(handle).digest
    (folder / "main.py").write_text("print('swapped')\n")
    archive.write_bytes(make_bundle(folder))
    with archive.open("rb") as handle:
        swapped = parse_bundle(handle).digest
    assert content_digest(archive) == swapped


def test_auto_falls_back_to_the_process_level_only_when_the_operator_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A machine where no namespace level works cannot exist here on demand: the probe says so instead.
    from runyard.agent.sandbox import levels

    monkeypatch.setattr(levels, "probe", lambda level, run_as=None: None if level == "process" else "no userns")
    with pytest.raises(SandboxError, match="RUNYARD_SANDBOX_ALLOW_PROCESS=true"):
        levels.choose("auto")
    assert levels.choose("auto", allow_process=True).name == "process"
    assert levels.choose("process").name == "process"
    with pytest.raises(SandboxError, match="'namespace' is not available"):
        levels.choose("process", requested="namespace")


def test_a_recipe_asking_for_process_gets_the_operators_stronger_level(monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.agent.sandbox import levels

    monkeypatch.setattr(levels, "probe", lambda level, run_as=None: "no bwrap" if level == "bubblewrap" else None)
    assert levels.choose("auto", requested="process").name == "namespace"
    assert levels.choose("auto", requested="process", allow_process=True).name == "namespace"
    assert levels.choose("namespace", requested="process").name == "namespace"
    with pytest.raises(SandboxError, match="unknown isolation level 'weak'"):
        levels.choose("auto", requested="weak")


def test_unreachable_for_names_the_directory_that_blocks_a_user() -> None:
    import tempfile

    from runyard.agent.sandbox.users import unreachable_for

    # Not under pytest's own (mode 700) temporary root, which would block the stranger first.
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        _check_unreachable(Path(scratch), unreachable_for)


def _check_unreachable(tmp_path: Path, unreachable_for) -> None:  # type: ignore[no-untyped-def]
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    target = locked / "inner" / "python"
    target.write_text("")
    os.chmod(tmp_path, 0o755)
    os.chmod(locked / "inner", 0o755)
    target.chmod(0o755)
    locked.chmod(0o700)
    owner = os.stat(locked).st_uid
    stranger = owner + 54321
    assert unreachable_for(target, stranger, stranger) == f"{locked} is mode 0700, owned by uid {owner}"
    assert unreachable_for(target, owner, os.stat(locked).st_gid) is None
    locked.chmod(0o711)
    assert unreachable_for(target, stranger, stranger) is None
    target.chmod(0o700)
    assert unreachable_for(target, stranger, stranger) == f"{target} is mode 0700, owned by uid {owner}"
