"""Browser sessions against live servers: cookie flags, CSRF, DNS rebinding, revocation on a second replica.

Two ``runyard server`` processes share one PostgreSQL database, as two replicas behind a Service do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import LiveServer, make_server
from tests.support.services import fresh_database

ADMIN, ADMIN_PASSWORD = "admin", "first admin password"
AUTH_ENV = {
    "RUNYARD_AUTH_ENABLED": "true",
    "RUNYARD_COOKIE_SECRET": "k" * 64,
    "RUNYARD_ADMIN_USERNAME": ADMIN,
    "RUNYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    root = tmp_path_factory.mktemp("replicas")
    with fresh_database("postgresql", str(root)) as url:
        servers = []
        for index in range(2):
            data_dir = root / f"replica-{index}"
            data_dir.mkdir()
            server = make_server(
                backend="postgresql",
                database_url=url,
                data_dir=data_dir,
                artifacts=str(root / "artifacts"),
                extra_env={**AUTH_ENV, "RUNYARD_AUTH_CACHE_SECONDS": "5"},
            )
            server.start()
            servers.append(server)
        try:
            yield servers[0], servers[1]
        finally:
            for server in servers:
                server.stop()


def _login(server: LiveServer, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/auth/login", json={"username": username, "password": password})


def _cookie(response: httpx.Response) -> str:
    return response.cookies["runyard_session"]


def test_login_sets_an_httponly_samesite_cookie_that_any_replica_accepts(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, second = replicas
    answer = _login(first)
    assert answer.status_code == 200, answer.text
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header
    assert "max-age=518400" in header
    me = httpx.get(f"{second.url}/api/v1/auth/me", cookies={"runyard_session": _cookie(answer)})
    assert me.status_code == 200 and me.json()["name"] == ADMIN and me.json()["via"] == "session"


def test_a_wrong_password_gets_401_and_repeated_failures_are_rate_limited(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, second = replicas
    name = f"victim-{uuid.uuid4().hex[:6]}"
    admin = httpx.Client(base_url=first.url, auth=(ADMIN, ADMIN_PASSWORD))
    assert (
        admin.post(
            "/api/2.0/mlflow/users/create", json={"username": name, "password": "victim password ok"}
        ).status_code
        == 200
    )
    for _ in range(5):
        assert _login(first, name, "wrong wrong wrong").status_code == 401
    # Locked on the other replica as well, even with the right password.
    locked = _login(second, name, "victim password ok")
    assert locked.status_code == 429 and "too many failed logins" in locked.json()["message"]


def test_logout_on_one_replica_ends_the_session_on_the_other(replicas: tuple[LiveServer, LiveServer]) -> None:
    first, second = replicas
    cookie = _cookie(_login(first))
    jar = {"runyard_session": cookie}
    assert httpx.get(f"{second.url}/api/v1/auth/me", cookies=jar).status_code == 200
    out = httpx.post(f"{first.url}/api/v1/auth/logout", cookies=jar, headers={"Origin": first.url})
    assert out.status_code == 200
    assert httpx.get(f"{second.url}/api/v1/auth/me", cookies=jar).status_code == 401


def test_a_password_change_ends_the_user_s_sessions_everywhere(replicas: tuple[LiveServer, LiveServer]) -> None:
    first, second = replicas
    name = f"changer-{uuid.uuid4().hex[:6]}"
    admin = httpx.Client(base_url=first.url, auth=(ADMIN, ADMIN_PASSWORD))
    admin.post("/api/2.0/mlflow/users/create", json={"username": name, "password": "original password"})
    jar = {"runyard_session": _cookie(_login(first, name, "original password"))}
    assert httpx.get(f"{second.url}/api/v1/auth/me", cookies=jar).status_code == 200
    changed = admin.patch(
        "/api/2.0/mlflow/users/update-password", json={"username": name, "password": "replaced password"}
    )
    assert changed.status_code == 200, changed.text
    assert httpx.get(f"{second.url}/api/v1/auth/me", cookies=jar).status_code == 401


def test_cookie_authenticated_changes_need_a_matching_origin_or_csrf_token(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, _ = replicas
    login = _login(first)
    jar = {"runyard_session": _cookie(login)}
    create = f"{first.url}/api/2.0/mlflow/experiments/create"
    name = f"csrf-{uuid.uuid4().hex[:6]}"
    foreign = httpx.post(create, json={"name": name}, cookies=jar, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "cross-site" in foreign.json()["message"]
    assert httpx.post(create, json={"name": name}, cookies=jar).status_code == 403
    assert httpx.post(create, json={"name": name}, cookies=jar, headers={"Origin": first.url}).status_code == 200
    token = login.json()["csrf_token"]
    assert (
        httpx.post(create, json={"name": name + "-2"}, cookies=jar, headers={"X-CSRF-Token": token}).status_code == 200
    )
    # Reading needs no proof of origin.
    assert (
        httpx.get(
            f"{first.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}, cookies=jar
        ).status_code
        == 200
    )


def test_a_host_outside_the_root_url_is_refused(tmp_path: Path) -> None:
    server = make_server(
        backend="sqlite",
        database_url=f"sqlite:///{tmp_path}/r.db",
        data_dir=tmp_path,
        artifacts=str(tmp_path / "a"),
        extra_env={**AUTH_ENV, "RUNYARD_ROOT_URL": "https://runyard.example.com"},
    )
    server.start()
    try:
        rebinding = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/search", auth=(ADMIN, ADMIN_PASSWORD))
        assert rebinding.status_code == 403 and "runyard.example.com" in rebinding.json()["message"]
        ours = httpx.get(
            f"{server.url}/api/2.0/mlflow/experiments/search",
            auth=(ADMIN, ADMIN_PASSWORD),
            headers={"Host": "runyard.example.com"},
        )
        assert ours.status_code == 200, ours.text
        login = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": ADMIN, "password": ADMIN_PASSWORD},
            headers={"Host": "runyard.example.com"},
        )
        assert "secure" in login.headers["set-cookie"].lower()
    finally:
        server.stop()
