"""Building one environment: a virtualenv from the interpreter, then the requirements, with ``uv`` or pip.

The installer runs as an agent subprocess, outside the job's sandbox (it needs the network and the
installer's cache), with a minimal environment: no ``RUNYARD_*`` variable — the agent token above
all — reaches it or the build scripts of the packages it installs. Its output is handed line by line
to the caller (the job's log); the whole build has a deadline and stops when the job is cancelled.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from runyard.agent.environments.spec import EnvironmentCancelled, EnvironmentFailed, EnvironmentSpec

# What the installer may see of the agent's environment: paths, locale, proxies, certificates, and
# the installers' own configuration (an operator's index URL, cache directory…).
PASSED_VARIABLES = (
    "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)  # fmt: skip
PASSED_PREFIXES = ("UV_", "PIP_")
TAIL_LINES = 60
MAX_DETAIL_CHARS = 300


def find_uv() -> str | None:
    """The ``uv`` binary of the ``uv`` package runyard depends on (``None`` if it is missing)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def pip_available() -> bool:
    return importlib.util.find_spec("pip") is not None


def installer_environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    # An explicit interpreter is given: uv must never fetch one of its own.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["NO_COLOR"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def requirements_file(target: Path) -> Path:
    """Where the requirement list is written for the installer while ``target`` is being built."""
    return target.with_name(f".{target.name}.requirements.txt")


def commands(spec: EnvironmentSpec, target: Path, installer: str) -> tuple[str, list[list[str]]]:
    """The installer's name and the argvs that build ``spec`` at ``target``.

    Raises:
        EnvironmentFailed: no installer is available.
    """
    requirements = str(requirements_file(target))
    system = ["--system-site-packages"] if spec.system_site_packages else []
    python = str(target / "bin" / "python")
    uv = find_uv() if installer in ("auto", "uv") else None
    if uv is not None:
        return "uv", [
            [uv, "venv", "--quiet", "--python", spec.interpreter.path, *system, str(target)],
            # Compiled now: jobs see the environment read-only, and would otherwise recompile every
            # module they import, every time (seconds for a package the size of mlflow).
            [uv, "pip", "install", "--compile-bytecode", "--python", python, "-r", requirements],
        ]
    if installer == "uv":
        raise EnvironmentFailed("environment: the uv installer is not available to the agent")
    if not pip_available():
        raise EnvironmentFailed("environment: neither uv nor pip is available to the agent")
    return "pip", [
        [spec.interpreter.path, "-m", "venv", "--without-pip", *system, str(target)],
        [sys.executable, "-m", "pip", "--python", python, "install", "-r", requirements],
    ]


def build(
    spec: EnvironmentSpec,
    target: Path,
    argvs: Sequence[Sequence[str]],
    *,
    output: Callable[[str], None],
    should_stop: Callable[[], bool],
    deadline: float,
    timeout: float,
) -> None:
    """Run ``argvs`` one after the other; the environment is complete at ``target`` when this returns.

    Raises:
        EnvironmentFailed: a step failed (the reason names the requirement) or the deadline passed.
        EnvironmentCancelled: ``should_stop`` turned true.
    """
    requirements = requirements_file(target)
    requirements.write_text("".join(f"{line}\n" for line in spec.requirements))
    try:
        for argv in argvs:
            tail = _run(argv, target.parent, output, should_stop, deadline)
            if tail is None:
                raise EnvironmentFailed(f"environment: installing {spec.summary} did not finish within {timeout:g} s")
            code, lines = tail
            if code != 0:
                raise EnvironmentFailed(failure_reason(spec.requirements, lines))
    finally:
        requirements.unlink(missing_ok=True)
    make_shareable(target)


def _run(
    argv: Sequence[str],
    cwd: Path,
    output: Callable[[str], None],
    should_stop: Callable[[], bool],
    deadline: float,
) -> tuple[int, list[str]] | None:
    """Exit code and last lines of one step; ``None`` when it ran out of time."""
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=installer_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        raise EnvironmentFailed(f"environment: cannot run {argv[0]}: {error.strerror or error}") from error
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def read() -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip()
                tail.append(line)
                output(line)

    reader = threading.Thread(target=read, name="environment-output", daemon=True)
    reader.start()
    while True:
        try:
            process.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            stop = should_stop()
            if stop or time.monotonic() >= deadline:
                _kill(process)
                reader.join(5)
                if stop:
                    raise EnvironmentCancelled from None
                return None
    reader.join(10)
    return process.returncode, list(tail)


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _normalised(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.lower())


def requirement_name(requirement: str) -> str | None:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _normalised(match.group(1)) if match and not requirement.lstrip().startswith("-") else None


def failure_reason(requirements: Sequence[str], lines: Sequence[str]) -> str:
    """``environment: cannot install <the requirements the installer complained about>: <its message>``."""
    text = _normalised("\n".join(lines))
    named = []
    for requirement in requirements:
        name = requirement_name(requirement)
        if name and re.search(rf"(?<![a-z0-9-]){re.escape(name)}(?![a-z0-9-])", text):
            named.append(requirement)
    return f"environment: cannot install {', '.join(named or requirements)}: {_detail(lines)}"


def _detail(lines: Sequence[str]) -> str:
    """The installer's explanation: uv's ``error:`` and its ``cause:``, pip's first ``ERROR:``, else its last words."""
    stripped = [line.strip() for line in lines if line.strip()]
    detail = next((line for line in stripped if line.startswith(("error:", "ERROR:", "×"))), None)
    if detail is None:
        return (stripped[-1] if stripped else "the installer failed without saying why")[:MAX_DETAIL_CHARS]
    detail = detail.split(":", 1)[1].strip() if ":" in detail else detail.lstrip("× ")
    causes = [line.split(":", 1)[1].strip() for line in stripped if line.startswith("cause:")]
    causes += [line.removeprefix("╰─▶").strip() for line in stripped if line.startswith("╰─▶")]
    return ": ".join([detail, *causes[-1:]])[:MAX_DETAIL_CHARS]


def make_shareable(root: Path) -> None:
    """Directories 0755 and files world-readable: jobs may run as another, unprivileged, user."""
    for directory, _dirs, files in os.walk(root):
        _add_mode(directory, 0o755)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                _add_mode(path, 0o755 if mode & 0o111 else 0o644)


def _add_mode(path: str, bits: int) -> None:
    mode = os.stat(path).st_mode & 0o7777
    if mode & bits != bits:
        os.chmod(path, mode | bits)


def tree_size(root: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total
