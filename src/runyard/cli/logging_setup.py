"""Console logging of ``runyard server`` and ``runyard agent``: one level for both."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """Events at ``level``; the HTTP client's line per request (every heartbeat and claim) only when debugging."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "debug":
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
