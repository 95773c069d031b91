"""Job environments: what names one (the digest) and what a failed install is reported as."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runyard.agent.environments import EnvironmentSpec, Interpreter, normalise
from runyard.agent.environments.installer import failure_reason, make_shareable

PYTHON = Interpreter(path="/usr/bin/python3", version="3.11.7", prefixes=("/usr",))

# Verbatim installer output (uv 0.13 with NO_COLOR, pip 24), as a job's log shows it.
UV_NOT_FOUND = """\
Using Python 3.11.7 environment at: 7b49ded6dd8e4cbf929c9bd6
error: No solution found when resolving dependencies
  cause: Because runyard-no-such-package-8c1f was not found in the package registry and you require \
runyard-no-such-package-8c1f==1.0, we can conclude that your requirements are unsatisfiable.
"""
PIP_NOT_FOUND = """\
Looking in indexes: https://pypi.org/simple
ERROR: Could not find a version that satisfies the requirement torch==9.9 (from versions: 2.4.0, 2.5.1)
ERROR: No matching distribution found for torch==9.9
"""


def test_the_digest_ignores_order_duplicates_blank_lines_and_comments() -> None:
    one = EnvironmentSpec(normalise(["numpy==2.0", "six", "six", "", "# pinned"]), PYTHON)
    other = EnvironmentSpec(normalise(["six", "  numpy==2.0  "]), PYTHON)
    assert one.digest == other.digest
    assert one.requirements == ("numpy==2.0", "six")


def test_the_digest_changes_with_the_requirements_the_interpreter_and_site_packages() -> None:
    base = EnvironmentSpec(("six",), PYTHON)
    newer = Interpreter(path="/usr/bin/python3", version="3.12.1", prefixes=("/usr",))
    assert len({
        base.digest,
        EnvironmentSpec(("six==1.16.0",), PYTHON).digest,
        EnvironmentSpec(("six",), newer).digest,
        EnvironmentSpec(("six",), PYTHON, system_site_packages=True).digest,
    }) == 4  # fmt: skip


def test_a_uv_failure_names_the_requirement_and_gives_uvs_cause() -> None:
    reason = failure_reason(["six", "runyard-no-such-package-8c1f==1.0"], UV_NOT_FOUND.splitlines())
    assert reason.startswith(
        "environment: cannot install runyard-no-such-package-8c1f==1.0: No solution found when resolving "
        "dependencies: Because runyard-no-such-package-8c1f was not found in the package registry"
    )


def test_a_pip_failure_names_the_requirement_and_gives_pips_error() -> None:
    reason = failure_reason(["torch==9.9", "mlflow-skinny", "mlflow"], PIP_NOT_FOUND.splitlines())
    assert reason == (
        "environment: cannot install torch==9.9: Could not find a version that satisfies the requirement "
        "torch==9.9 (from versions: 2.4.0, 2.5.1)"
    )


def test_a_failure_naming_no_requirement_lists_them_all() -> None:
    reason = failure_reason(["six", "idna"], ["network is unreachable"])
    assert reason == "environment: cannot install six, idna: network is unreachable"


def test_built_environments_are_readable_and_traversable_by_other_users(tmp_path: Path) -> None:
    root = tmp_path / "env"
    (root / "bin").mkdir(parents=True)
    private = root / "lib.py"
    private.write_text("x = 1\n")
    tool = root / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    os.chmod(private, 0o600)
    os.chmod(tool, 0o700)
    os.chmod(root / "bin", 0o700)
    make_shareable(root)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tool).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(root / "bin").st_mode) == 0o755
