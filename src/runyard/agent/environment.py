"""The environment of a job process, built from scratch (protocol: "What the job process gets").

Nothing of the agent's own environment passes through: no ``RUNYARD_AGENT_TOKEN``, no cloud or
database credentials. The job gets the tracking coordinates of its run, its scoped token, its
parameters and directories, its GPUs, a minimal ``PATH`` and the variables its recipe or job declared.
A recipe with requirements runs in its own virtualenv (``VIRTUAL_ENV``, first on ``PATH``); one
without runs with the agent's interpreter.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Variables the agent owns; a declared variable of the same name does not replace them.
RESERVED_PREFIXES = ("MLFLOW_TRACKING_", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "RUNYARD_")


def minimal_path(virtualenv: Path | None = None) -> str:
    """System directories after the job's virtualenv ``bin``, else the agent interpreter's ``bin``."""
    first = str(virtualenv / "bin") if virtualenv is not None else os.path.dirname(sys.executable)
    return f"{first}:{SYSTEM_PATH}"


def job_environment(
    *,
    tracking_uri: str,
    run_id: str,
    experiment_id: str,
    token: str | None,
    job_id: str,
    attempt: int,
    parameters: Mapping[str, Any],
    gpus: Sequence[str],
    work_dir: Path,
    output_dir: Path,
    tmp_dir: Path,
    declared: Mapping[str, str] | None = None,
    virtualenv: Path | None = None,
) -> dict[str, str]:
    """The complete environment of one attempt's process."""
    env: dict[str, str] = {}
    for name, value in (declared or {}).items():
        if not name.startswith(RESERVED_PREFIXES):
            env[str(name)] = str(value)
    env.update(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            "RUNYARD_JOB_ID": job_id,
            "RUNYARD_ATTEMPT": str(attempt),
            "RUNYARD_PARAMS": json.dumps(dict(parameters)),
            "RUNYARD_OUTPUT_DIR": str(output_dir),
            "CUDA_VISIBLE_DEVICES": ",".join(gpus),
            "HOME": str(work_dir),
            "TMPDIR": str(tmp_dir),
            "PATH": minimal_path(virtualenv),
            # Not secrets, and needed for live logs and sane text: unbuffered python, UTF-8 locale.
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        }
    )
    if virtualenv is not None:
        env["VIRTUAL_ENV"] = str(virtualenv)
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env
