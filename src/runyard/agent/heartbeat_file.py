"""The liveness file the Helm chart's probe checks: touched on every pass of the heartbeat loop."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)


def touch(path: Path) -> None:
    """Write the current time into ``path`` (creating its folder); failures are logged, never raised."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(f"{time.time():.3f}\n")
        os.replace(partial, path)
    except OSError as error:
        log.warning("cannot write the heartbeat file %s: %s", path, error)
