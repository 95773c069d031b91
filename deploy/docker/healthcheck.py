"""Container HEALTHCHECK for the runyard image: one image runs the server or an agent.

* ``runyard server``: GET http://127.0.0.1:$RUNYARD_PORT/health must answer 200.
* ``runyard agent`` (no HTTP port): the heartbeat file the agent touches after every successful heartbeat
  (``RUNYARD_AGENT_HEARTBEAT_FILE``) must be younger than ``RUNYARD_HEALTHCHECK_MAX_AGE`` seconds (60).

Kubernetes ignores Docker's HEALTHCHECK; the Helm chart declares the same checks as probes.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path


def _is_agent() -> bool:
    try:
        argv = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"agent" in argv


def _agent_healthy() -> bool:
    heartbeat = Path(os.environ.get("RUNYARD_AGENT_HEARTBEAT_FILE", "/tmp/runyard-agent/heartbeat"))
    max_age = float(os.environ.get("RUNYARD_HEALTHCHECK_MAX_AGE", "60"))
    return heartbeat.exists() and time.time() - heartbeat.stat().st_mtime < max_age


def _server_healthy() -> bool:
    url = f"http://127.0.0.1:{os.environ.get('RUNYARD_PORT', '5050')}/health"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return bool(response.status == 200)
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if (_agent_healthy() if _is_agent() else _server_healthy()) else 1)
