"""What every new user gets (``RUNYARD_DEFAULT_ROLE`` in ``RUNYARD_DEFAULT_WORKSPACE``, ``RUNYARD_ADMINS``),
and the job list showing only the jobs of queues the principal may read — against live servers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runyard.client import Client
from runyard.client._credentials import basic_authorization
from tests.conftest import ServerPool, unique
from tests.support.auth import ADMIN, ADMIN_PASSWORD, PASSWORD, auth_env
from tests.support.compute import write_recipe
from tests.support.servers import LiveServer

API = "/api/2.0/mlflow"
BOSS = "Boss@Example.com"
AUTH_ENV = auth_env("d" * 64, admins=f"someone@example.com, {BOSS.lower()}")


@pytest.fixture
def server(server_pool: ServerPool) -> LiveServer:
    """Default settings: new users are viewers of ``default``."""
    return server_pool.shared("new-user-defaults", "sqlite", extra_env=AUTH_ENV)


@pytest.fixture
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(ADMIN, ADMIN_PASSWORD)) as client:
        yield client


def _create_user(admin: httpx.Client) -> str:
    name = unique("user")
    answer = admin.post(f"{API}/users/create", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return name


def _cli(server: LiveServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard", *args, "--backend-store-uri", server.database_url],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cli_users(server: LiveServer) -> dict[str, dict[str, object]]:
    listed = _cli(server, "user", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    return {user["username"]: user for user in json.loads(listed.stdout)}


def test_a_user_created_through_the_api_is_a_viewer_of_the_default_workspace(
    server: LiveServer, admin: httpx.Client
) -> None:
    experiment = admin.post(f"{API}/experiments/create", json={"name": unique("exp")}).json()["experiment_id"]
    name = _create_user(admin)
    with httpx.Client(base_url=server.url, auth=(name, PASSWORD)) as user:
        roles = admin.get("/api/3.0/mlflow/users/roles/list", params={"username": name})
        assert roles.status_code == 200, roles.text
        assert [(r["name"], r["workspace"]) for r in roles.json()["roles"]] == [("viewer", "default")]
        # A viewer reads what others made, and writes nothing.
        got = user.get(f"{API}/experiments/get", params={"experiment_id": experiment})
        assert got.status_code == 200, got.text
        assert user.post(f"{API}/experiments/create", json={"name": unique("mine")}).status_code == 403
        assert user.get("/api/v1/jobs").status_code == 200


def test_a_user_created_by_the_cli_with_an_admin_email_is_an_admin(server: LiveServer, admin: httpx.Client) -> None:
    boss, plain = unique("boss"), unique("plain")
    made = _cli(server, "user", "create", boss, "--email", BOSS, "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert "(admin)" in made.stdout
    made = _cli(server, "user", "create", plain, "--email", f"{plain}@example.com", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    users = _cli_users(server)
    assert users[boss]["is_admin"] is True and users[plain]["is_admin"] is False
    roles = admin.get("/api/3.0/mlflow/users/roles/list", params={"username": plain}).json()["roles"]
    assert [r["name"] for r in roles] == ["viewer"]
    with httpx.Client(base_url=server.url, auth=(boss, PASSWORD)) as boss_client:
        assert boss_client.post(f"{API}/experiments/create", json={"name": unique("b")}).status_code == 200


def test_the_default_role_and_workspace_are_configurable(server_pool: ServerPool) -> None:
    server = server_pool.start_new(
        "sqlite", extra_env={**AUTH_ENV, "RUNYARD_DEFAULT_ROLE": "editor", "RUNYARD_DEFAULT_WORKSPACE": "team-a"}
    )
    try:
        with httpx.Client(base_url=server.url, auth=(ADMIN, ADMIN_PASSWORD)) as admin:
            # The server made the workspace new users are placed in.
            assert admin.get("/api/3.0/mlflow/workspaces/team-a").status_code == 200
            name = _create_user(admin)
        with httpx.Client(base_url=server.url, auth=(name, PASSWORD)) as user:
            in_team = user.post(
                f"{API}/experiments/create", json={"name": unique("e")}, headers={"X-MLFLOW-WORKSPACE": "team-a"}
            )
            assert in_team.status_code == 200, in_team.text
            # Nothing in the other workspace.
            assert user.post(f"{API}/experiments/create", json={"name": unique("e")}).status_code == 403
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RUNYARD_DEFAULT_ROLE", "owner", "unknown default_role 'owner'"),
        ("RUNYARD_DEFAULT_WORKSPACE", "Team_A", "default_workspace"),
        ("RUNYARD_ADMINS", "boss", "'boss' is not an email address"),
    ],
)
def test_bad_new_user_settings_are_refused_in_one_line(tmp_path: Path, variable: str, value: str, message: str) -> None:
    env = {"PATH": "/usr/bin:/bin", variable: value, "RUNYARD_DATA_DIR": str(tmp_path)}
    checked = subprocess.run(
        [sys.executable, "-m", "runyard", "config", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0
    lines = [line for line in (checked.stderr + checked.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines


def test_the_job_list_shows_only_jobs_of_readable_queues(
    server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    open_queue, closed_queue, recipe = unique("open"), unique("closed"), unique("recipe")
    with Client(server.url, authorization=basic_authorization(ADMIN, ADMIN_PASSWORD)) as root:
        root.put_pool(unique("pool"), queues=[open_queue, closed_queue])
        root.push_recipe(write_recipe(tmp_path / recipe, recipe))
        visible = root.submit_job(recipe, queue=open_queue)
        hidden = root.submit_job(recipe, queue=closed_queue)
    # A user without the viewer role, granted READ on one queue only.
    name = _create_user(admin)
    viewer_role = next(r["id"] for r in admin.get("/api/3.0/mlflow/users/roles/list", params={"username": name})
                       .json()["roles"])  # fmt: skip
    assert admin.request(
        "DELETE", "/api/3.0/mlflow/roles/unassign", json={"username": name, "role_id": viewer_role}
    ).is_success
    granted = admin.post(
        "/api/3.0/mlflow/users/permissions/grant",
        json={"username": name, "resource_type": "queue", "resource_id": open_queue, "permission": "READ"},
    )
    assert granted.is_success, granted.text
    with httpx.Client(base_url=server.url, auth=(name, PASSWORD)) as user:
        listed = user.get("/api/v1/jobs")
        assert listed.status_code == 200, listed.text
        ids = [job["job_id"] for job in listed.json()["jobs"]]
        assert visible["job_id"] in ids and hidden["job_id"] not in ids
        # Paging stays full: one per page, and the page is the readable job, not an empty one.
        first = user.get("/api/v1/jobs", params={"limit": 1}).json()["jobs"]
        assert [job["job_id"] for job in first] == [visible["job_id"]]
        assert user.get("/api/v1/jobs", params={"queue": closed_queue}).status_code == 403
    # Admins see every job.
    every = [job["job_id"] for job in admin.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]]
    assert visible["job_id"] in every and hidden["job_id"] in every
