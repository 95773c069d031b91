"""``runyard --help``, ``runyard config check`` and settings precedence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _runyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    base["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "runyard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


def _config_json(stdout: str) -> dict[str, object]:
    start = stdout.index("{")
    end = stdout.rindex("}") + 1
    return json.loads(stdout[start:end])  # type: ignore[no-any-return]


def test_top_level_help_lists_commands() -> None:
    result = _runyard("--help")
    assert result.returncode == 0
    for command in ("server", "db", "config"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "command", [["server"], ["db", "upgrade"], ["db", "current"], ["db", "check"], ["config", "check"]]
)
def test_every_subcommand_has_help(command: list[str]) -> None:
    result = _runyard(*command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout
    assert "--help" in result.stdout


def test_server_help_documents_every_flag() -> None:
    result = _runyard("server", "--help")
    for flag in ("--host", "--port", "--workers", "--data-dir", "--backend-store-uri", "--artifacts-destination"):
        assert flag in result.stdout


def test_config_check_shows_effective_values_with_secrets_redacted(tmp_path: Path) -> None:
    result = _runyard(
        "config", "check", "--data-dir", str(tmp_path),
        env={
            "RUNYARD_BACKEND_STORE_URI": "postgresql://app:hunter2@db:5432/runyard",
            "RUNYARD_REDIS_URL": "redis://:s3cret@redis:6379/0",
            "MLFLOW_S3_ENDPOINT_URL": "http://minio:9000",
            "RUNYARD_GATEWAY_KEK": "gateway-key-encryption-key-0123456789",
        },
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "s3cret" not in result.stdout
    assert "gateway-key-encryption" not in result.stdout
    config = _config_json(result.stdout)
    assert config["gateway_kek"] == "**********"
    assert config["database_url"] == "postgresql://app:***@db:5432/runyard"
    assert config["s3_endpoint_url"] == "http://minio:9000"
    assert config["data_dir"] == str(tmp_path)
    assert config["artifacts_uri"] == str(tmp_path / "artifacts")


def test_flags_beat_environment_beat_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "runyard.toml"
    config_file.write_text('port = 7000\nhost = "0.0.0.0"\nworkers = 3\n')
    result = _runyard("config", "check", "--config", str(config_file), env={"RUNYARD_PORT": "7100"})
    config = _config_json(result.stdout)
    assert config["port"] == 7100  # env beats file
    assert config["host"] == "0.0.0.0"  # file beats default
    assert config["workers"] == 3


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"RUNYARD_PORT": "99999"}, "port"),
        ({"RUNYARD_BACKEND_STORE_URI": "oracle://x"}, "unsupported database URL"),
        ({"RUNYARD_ARTIFACTS_DESTINATION": "gs://bucket"}, "unsupported storage URI"),
        ({"RUNYARD_COOKIE_SECRET": "short"}, "at least 64"),
        ({"RUNYARD_GATEWAY_KEK": "short"}, "gateway_kek must be at least 32"),
        ({"RUNYARD_WORKERS": "many"}, "workers"),
    ],
)
def test_invalid_configuration_fails_with_one_line(env: dict[str, str], fragment: str) -> None:
    result = _runyard("config", "check", env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("error:")
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    result = _runyard("config", "check", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode != 0 and "does not exist" in result.stderr
