"""Auth on, against a live server, with the real ``mlflow`` 3.17.2 client and its ``AuthServiceClient``.

Basic (MLFLOW_TRACKING_USERNAME/PASSWORD) and Bearer (MLFLOW_TRACKING_TOKEN) credentials work
unchanged; a wrong one is a 401 in MLflow's error shape, which the client raises as usual.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from runyard.client import Client
from runyard.client._credentials import basic_authorization
from tests.conftest import ServerPool, unique
from tests.support.auth import ADMIN, ADMIN_PASSWORD, auth_env
from tests.support.servers import LiveServer

# No role for new users: each test gives the roles and grants its principals hold.
AUTH_ENV = auth_env("c" * 64, default_role="none")


@pytest.fixture
def auth_server(server_pool: ServerPool) -> LiveServer:
    return server_pool.shared("compat-auth", "sqlite", extra_env=AUTH_ENV)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Set the mlflow client's credential variables for the rest of the test."""

    def use(username: str | None = None, password: str | None = None, token: str | None = None) -> None:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        if username is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or "")
        if token is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield use


def _admin_client(server: LiveServer) -> Client:
    return Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD))


def test_basic_credentials_of_the_bootstrap_admin_work_with_the_mlflow_client(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    as_user(ADMIN, ADMIN_PASSWORD)
    client = MlflowClient(tracking_uri=auth_server.url)
    experiment_id = client.create_experiment(unique("auth"))
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}


def test_a_wrong_password_or_no_credential_is_a_401_the_client_raises(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    as_user(ADMIN, "not the password at all")
    with pytest.raises(MlflowException) as raised:
        MlflowClient(tracking_uri=auth_server.url).search_experiments()
    assert raised.value.get_http_status_code() == 401
    answer = httpx.post(f"{auth_server.url}/api/2.0/mlflow/experiments/create", json={"name": unique("anon")})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    assert answer.headers["www-authenticate"].startswith("Basic")
    # The web UI's calls get the 401 without the challenge (no browser password dialog over its login page).
    from_ui = httpx.get(f"{auth_server.url}/api/v1/auth/me", headers={"X-Requested-With": "runyard-ui"})
    assert from_ui.status_code == 401 and "www-authenticate" not in from_ui.headers
    # Probes stay open.
    assert httpx.get(f"{auth_server.url}/health").status_code == 200


def test_a_token_works_as_mlflow_tracking_token_and_stops_when_revoked(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with _admin_client(auth_server) as admin:
        name = unique("ci")
        created = admin.create_token(name, expires_in="1d")
        assert created["token_info"]["name"] == name and created["token_info"]["expires_at"]
        assert all("token" not in t or t["name"] for t in admin.list_tokens())
    as_user(token=created["token"])
    MlflowClient(tracking_uri=auth_server.url).create_experiment(unique("by-token"))
    with _admin_client(auth_server) as admin:
        admin.revoke_token(name)
    with pytest.raises(MlflowException) as raised:
        MlflowClient(tracking_uri=auth_server.url).search_experiments()
    assert raised.value.get_http_status_code() == 401


def test_auth_service_client_manages_users(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    as_user(ADMIN, ADMIN_PASSWORD)
    auth = get_app_client("basic-auth", tracking_uri=auth_server.url)
    name = unique("user")
    user = auth.create_user(name, "a long enough password")
    assert (user.username, user.is_admin) == (name, False)
    assert auth.get_user(name).id == user.id
    with pytest.raises(MlflowException, match="at least 12 characters"):
        auth.create_user(unique("weak"), "short")
    with pytest.raises(MlflowException, match="already exists"):
        auth.create_user(name, "a long enough password")

    # The user changes their own password: the current one is required.
    as_user(name, "a long enough password")
    auth_self = get_app_client("basic-auth", tracking_uri=auth_server.url)
    with pytest.raises(MlflowException, match="current_password"):
        auth_self.update_user_password(name, "a newer long password")
    auth_self.update_user_password(name, "a newer long password", current_password="a long enough password")
    as_user(name, "a newer long password")
    # A non-admin cannot make themselves admin nor read another account.
    with pytest.raises(MlflowException) as raised:
        get_app_client("basic-auth", tracking_uri=auth_server.url).update_user_admin(name, True)
    assert raised.value.get_http_status_code() == 403
    with pytest.raises(MlflowException):
        get_app_client("basic-auth", tracking_uri=auth_server.url).get_user(ADMIN)

    as_user(ADMIN, ADMIN_PASSWORD)
    auth.update_user_admin(name, True)
    assert auth.get_user(name).is_admin
    auth.delete_user(name)
    with pytest.raises(MlflowException, match="not found"):
        auth.get_user(name)


def test_auth_service_client_manages_roles_and_grants(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    as_user(ADMIN, ADMIN_PASSWORD)
    auth = get_app_client("basic-auth", tracking_uri=auth_server.url)
    member = unique("member")
    auth.create_user(member, "member password long")
    role = auth.create_role("default", unique("readers"), description="read experiments")
    assert role.workspace == "default" and role.description == "read experiments"
    permission = auth.add_role_permission(role.id, "experiment", "*", "READ")
    assert [p.id for p in auth.list_role_permissions(role.id)] == [permission.id]
    assert auth.update_role_permission(permission.id, "EDIT").permission == "EDIT"
    with pytest.raises(MlflowException, match="Workspace-wide grants accept only"):
        auth.add_role_permission(role.id, "workspace", "*", "READ")
    assignment = auth.assign_role(member, role.id)
    assert assignment.role_id == role.id
    assert [r.id for r in auth.list_user_roles(member)] == [role.id]
    assert [a.role_id for a in auth.list_role_users(role.id)] == [role.id]
    assert role.id in [r.id for r in auth.list_roles("default")]
    renamed = auth.update_role(role.id, name=role.name + "-x")
    assert renamed.name == role.name + "-x" and auth.get_role(role.id).name == renamed.name

    experiment_id = MlflowClient(tracking_uri=auth_server.url).create_experiment(unique("granted"))
    assert auth.get_user_permission(member, "experiment", experiment_id).permission == "EDIT"
    auth.grant_user_permission(member, "experiment", experiment_id, "DENY")
    result = auth.get_user_permission(member, "experiment", experiment_id)
    assert (result.permission, result.allowed) == ("DENY", False)
    auth.revoke_user_permission(member, "experiment", experiment_id)
    assert auth.get_user_permission(member, "experiment", experiment_id).allowed

    auth.remove_role_permission(permission.id)
    assert auth.get_user_permission(member, "experiment", experiment_id).permission == "NO_PERMISSIONS"
    auth.unassign_role(member, role.id)
    auth.delete_role(role.id)
    with pytest.raises(MlflowException, match="not found"):
        auth.get_role(role.id)

    # A member cannot manage roles.
    as_user(member, "member password long")
    with pytest.raises(MlflowException) as raised:
        get_app_client("basic-auth", tracking_uri=auth_server.url).create_role("default", unique("mine"))
    assert raised.value.get_http_status_code() == 403


def test_runyard_token_create_prints_the_token_alone_on_the_last_line(auth_server: LiveServer) -> None:
    env = {**auth_server.env, "MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    name = unique("cli")
    done = subprocess.run(
        [sys.executable, "-m", "runyard", "token", "create", name, "--expires-in", "2h", "--server", auth_server.url],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("ryt_") and " " not in token
    with Client(auth_server.url, token=token) as client:
        assert client.whoami()["name"] == ADMIN
    listed = subprocess.run(
        [sys.executable, "-m", "runyard", "token", "ls", "--server", auth_server.url, "--json"],
        env={**auth_server.env, "RUNYARD_TOKEN": token}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert name in listed.stdout and token not in listed.stdout
    revoked = subprocess.run(
        [sys.executable, "-m", "runyard", "token", "revoke", name, "--server", auth_server.url],
        env={**auth_server.env, "RUNYARD_TOKEN": token}, capture_output=True, text=True,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert (
        httpx.get(f"{auth_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
