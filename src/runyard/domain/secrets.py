"""Which job environment variables are secret: declared by their name, as CI systems do.

A variable whose name contains TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, API_KEY, ACCESS_KEY or
PRIVATE_KEY (any case), or ends in _KEY, is secret: the API shows its name, never its value; only the
agent that runs the job receives the value.
"""

from __future__ import annotations

SECRET_PLACEHOLDER = "********"
_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY")


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper.endswith("_KEY") or any(marker in upper for marker in _MARKERS)
