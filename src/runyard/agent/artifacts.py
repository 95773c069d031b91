"""Uploading the files a job left in its output directory as artifacts of its tracking run."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from runyard.agent.backoff import Backoff
from runyard.client._agent import AgentAPI
from runyard.errors import RunyardError, Unavailable

log = logging.getLogger(__name__)
ATTEMPTS_PER_FILE = 5


def output_files(output_dir: Path) -> list[Path]:
    """Regular files under ``output_dir`` (symlinks are skipped: they could point anywhere)."""
    if not output_dir.is_dir():
        return []
    return sorted(path for path in output_dir.rglob("*") if path.is_file() and not path.is_symlink())


def upload_outputs(
    client: AgentAPI,
    *,
    experiment_id: str,
    run_id: str,
    output_dir: Path,
    token: str | None,
    stop: threading.Event,
    workspace: str | None = None,
) -> list[str]:
    """Upload every output file; returns one message per file that could not be uploaded."""
    problems: list[str] = []
    for path in output_files(output_dir):
        relative = path.relative_to(output_dir).as_posix()
        backoff = Backoff(initial=0.5, maximum=10.0)
        for attempt in range(ATTEMPTS_PER_FILE):
            try:
                client.upload_artifact(experiment_id, run_id, relative, path, token=token, workspace=workspace)
                break
            except Unavailable as error:
                if attempt == ATTEMPTS_PER_FILE - 1 or backoff.wait(stop):
                    problems.append(f"{relative}: {error.message}")
                    break
            except (RunyardError, OSError) as error:
                problems.append(f"{relative}: {getattr(error, 'message', None) or error}")
                break
    return problems
