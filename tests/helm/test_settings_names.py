"""The chart only sets environment variables that runyard reads, with values runyard accepts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from runyard.settings import AgentSettings, SandboxSettings, ServerSettings

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "runyard" / "templates"
# Prefixes of settings classes, longest first so RUNYARD_AGENT_X is not read as a server setting "agent_x".
PREFIXES = (("RUNYARD_SANDBOX_", SandboxSettings), ("RUNYARD_AGENT_", AgentSettings), ("RUNYARD_", ServerSettings))
NOT_SETTINGS = {"RUNYARD_CONFIG"}


def _chart_variables() -> set[str]:
    names: set[str] = set()
    for template in TEMPLATES.rglob("*"):
        if template.is_file():
            names.update(re.findall(r"\bRUNYARD_[A-Z0-9_]*[A-Z0-9]\b", template.read_text()))
    return names - NOT_SETTINGS


def test_every_runyard_variable_in_the_chart_is_a_setting() -> None:
    unknown = []
    for name in sorted(_chart_variables()):
        prefix, settings_class = next((p, c) for p, c in PREFIXES if name.startswith(p))
        field = name.removeprefix(prefix).lower()
        if field not in settings_class.model_fields:
            unknown.append(name)
    assert unknown == [], f"the chart sets variables runyard does not read: {unknown}"


def test_chart_oidc_format_is_accepted_by_config_check() -> None:
    toml = (
        '[{ name = "Google", key = "google", issuer_url = "https://accounts.google.com", '
        'client_id = "id", pkce = true }]'
    )
    result = config_check_with_providers(toml)
    assert result.returncode == 0, result.stderr
    assert "accounts.google.com" not in result.stdout  # a secret: redacted


@pytest.mark.parametrize(
    ("value", "message"),
    [("[{ name = 1", "not valid TOML"), ('[{ name = "x" }]', "missing key, issuer_url, client_id")],
)
def test_bad_oidc_providers_fail_config_check(value: str, message: str) -> None:
    result = config_check_with_providers(value)
    assert result.returncode != 0
    assert message in result.stderr


def config_check_with_providers(providers: str) -> subprocess.CompletedProcess[str]:
    """``runyard config check`` with ``RUNYARD_OIDC_PROVIDERS`` set to ``providers`` (and nothing else)."""
    return subprocess.run(
        [sys.executable, "-m", "runyard", "config", "check"],
        env={"RUNYARD_OIDC_PROVIDERS": providers, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
