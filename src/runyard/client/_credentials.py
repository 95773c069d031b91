"""Where the SDK and the CLI find credentials: the same variables as the mlflow client, plus RUNYARD_TOKEN."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping


def authorization_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """An ``Authorization`` header value, first match wins.

    ``RUNYARD_TOKEN``, then ``MLFLOW_TRACKING_TOKEN`` (both Bearer), then ``MLFLOW_TRACKING_USERNAME`` +
    ``MLFLOW_TRACKING_PASSWORD`` (Basic), so a shell set up for ``mlflow`` works for ``runyard`` too.
    """
    env = os.environ if environ is None else environ
    token = env.get("RUNYARD_TOKEN") or env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return f"Bearer {token}"
    username, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    if username and password:
        return basic_authorization(username, password)
    return None


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
