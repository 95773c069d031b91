"""Starting a server with auth: the bootstrap admin, refusing to start unadministered, warnings,
several worker processes with every secret configured, and the ``runyard user`` commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from runyard.settings import ServerSettings, to_environment
from tests.support.servers import make_server
from tests.support.services import free_port

OIDC = (
    '[{name = "Example", key = "example", issuer_url = "https://id.example.com", '
    'client_id = "runyard", client_secret = "s3cret"}]'
)
AUTH_ENV = {"RUNYARD_AUTH_ENABLED": "true", "RUNYARD_COOKIE_SECRET": "z" * 64}


def _server_command(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard", "server", "--data-dir", str(tmp_path), "--port", str(free_port()), *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))} | {
        "RUNYARD_LOCAL_POOL": "false"
    }


def test_auth_on_without_an_admin_or_a_bootstrap_password_refuses_to_start(tmp_path: Path) -> None:
    done = _server_command(tmp_path, env=_clean_env() | AUTH_ENV)
    assert done.returncode != 0
    # Migration logging aside, the refusal is one line.
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "RUNYARD_ADMIN_PASSWORD" in errors[0]


def test_a_default_bootstrap_password_is_refused(tmp_path: Path) -> None:
    env = _clean_env() | AUTH_ENV | {"RUNYARD_ADMIN_USERNAME": "root", "RUNYARD_ADMIN_PASSWORD": "changeme12345"}
    done = _server_command(tmp_path, env=env)
    assert done.returncode != 0 and "well-known default" in done.stderr


def test_settings_survive_the_export_to_worker_processes_with_every_secret() -> None:
    settings = ServerSettings(
        auth_enabled=True,
        cookie_secret="q" * 64,
        oidc_providers=OIDC,  # type: ignore[arg-type]
        root_url="https://runyard.example.com",  # OIDC callbacks are built on it
        admin_password="bootstrap password",  # type: ignore[arg-type]
        redis_url="redis://:pw@127.0.0.1:6379/0",  # type: ignore[arg-type]
        pools=[{"name": "gpu", "gpus_per_replica": 2}],  # type: ignore[list-item]
    )
    environment = to_environment(settings)
    assert "**********" not in environment.values()
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, environment, clear=True):
        rebuilt = ServerSettings()
    assert rebuilt.model_dump() == settings.model_dump()
    assert rebuilt.oidc_providers is not None and rebuilt.oidc_providers.get_secret_value() == OIDC


def test_two_workers_start_with_oidc_configured_and_serve_authenticated_requests(tmp_path: Path) -> None:
    env = AUTH_ENV | {
        "RUNYARD_OIDC_PROVIDERS": OIDC,
        "RUNYARD_ADMIN_USERNAME": "root",
        "RUNYARD_ADMIN_PASSWORD": "bootstrap password",
    }
    server = make_server(
        backend="sqlite",
        database_url=f"sqlite:///{tmp_path}/w.db",
        data_dir=tmp_path,
        artifacts=str(tmp_path / "a"),
        extra_args=["--workers", "2"],
        extra_env=env,
    )
    server.env["RUNYARD_ROOT_URL"] = server.url  # OIDC callbacks are built on it
    server.start()
    try:
        for _ in range(6):
            answer = httpx.get(f"{server.url}/api/v1/auth/me", auth=("root", "bootstrap password"))
            assert answer.status_code == 200, answer.text
            assert answer.json()["name"] == "root"
    finally:
        server.stop()


def test_a_non_loopback_host_with_auth_off_prints_a_warning(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "runyard", "server", "--host", "0.0.0.0", "--port", str(port),
         "--data-dir", str(tmp_path)],
        env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_lines = []
        for line in process.stdout:
            first_lines.append(line)
            if "runyard server on" in line or len(first_lines) > 200:
                break
    finally:
        process.terminate()
        process.wait(15)
    assert any("warning: auth is off" in line and "0.0.0.0" in line for line in first_lines), first_lines


def test_user_commands_create_list_change_and_disable_users(tmp_path: Path) -> None:
    env = _clean_env() | {"RUNYARD_DATA_DIR": str(tmp_path)}

    def run(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runyard", "user", *args],
            env=env | ({"RUNYARD_USER_PASSWORD": password} if password else {}),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert run("create", "ops", "--admin", password="operator password").returncode == 0
    weak = run("create", "weak", password="password1234")
    assert weak.returncode != 0 and "well-known default" in weak.stderr and len(weak.stderr.strip().splitlines()) == 1
    assert run("create", "ops", password="operator password").returncode != 0
    assert run("set-password", "ops", password="another operator pw").returncode == 0
    listed = run("ls", "--json")
    assert '"username": "ops"' in listed.stdout and "argon2" not in listed.stdout
    last_admin = run("disable", "ops")
    assert last_admin.returncode != 0 and "last active admin" in last_admin.stderr
    assert run("create", "dev", password="developer password").returncode == 0
    assert run("disable", "dev").returncode == 0
    assert '"disabled": true' in run("ls", "--json").stdout


def test_the_embedded_local_pool_works_with_auth_on(tmp_path: Path) -> None:
    """With auth on the server mints its local agent a pool-scoped token: the pool has a live worker."""
    port = free_port()
    env = (
        {k: v for k, v in _clean_env().items() if k != "RUNYARD_LOCAL_POOL"}
        | AUTH_ENV
        | {
            "RUNYARD_ADMIN_USERNAME": "admin",
            "RUNYARD_ADMIN_PASSWORD": "a long admin password",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "runyard", "server", "--port", str(port), "--data-dir", str(tmp_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        pools: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{url}/api/v1/pools", auth=("admin", "a long admin password"), timeout=5)
                pools = answer.json().get("pools", []) if answer.status_code == 200 else []
            except httpx.HTTPError:
                pools = []
            if pools and pools[0].get("workers"):
                break
            time.sleep(0.5)
        assert pools and pools[0]["name"] == "local" and pools[0]["workers"] == 1, pools
        assert pools[0]["status"] != "degraded", pools
        tokens = httpx.get(f"{url}/api/v1/tokens", auth=("admin", "a long admin password"), timeout=5).json()
        assert "local-pool-agent" in str(tokens)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
