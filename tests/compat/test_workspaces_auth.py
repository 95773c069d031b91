"""Workspaces with auth on (live server, the real ``mlflow`` client and ``AuthServiceClient``): only an
administrator manages workspaces, a deleted workspace takes its roles with it, and an anonymous caller
learns nothing about which workspaces exist."""

from __future__ import annotations

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from tests.compat.test_auth import as_user, auth_server
from tests.conftest import unique
from tests.support.auth import ADMIN, ADMIN_PASSWORD
from tests.support.servers import LiveServer

__all__ = ["as_user", "auth_server"]  # fixtures, used by name


def test_deleting_a_workspace_removes_its_roles(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    as_user(ADMIN, ADMIN_PASSWORD)
    client = MlflowClient(tracking_uri=auth_server.url)
    auth = get_app_client("basic-auth", tracking_uri=auth_server.url)
    name = unique("team")
    client.create_workspace(name)
    member = unique("member")
    auth.create_user(member, "member password long")
    role = auth.create_role(name, "editors")
    auth.assign_role(member, role.id)
    assert [r.name for r in auth.list_roles(name)] == ["editors"]

    client.delete_workspace(name)
    client.create_workspace(name)
    # A new workspace of the same name starts with no members.
    assert auth.list_roles(name) == []
    assert [r.workspace for r in auth.list_user_roles(member)] == []


def test_only_an_administrator_manages_workspaces(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    as_user(ADMIN, ADMIN_PASSWORD)
    auth = get_app_client("basic-auth", tracking_uri=auth_server.url)
    user = unique("user")
    auth.create_user(user, "a long enough password")
    as_user(user, "a long enough password")
    with pytest.raises(MlflowException) as refused:
        MlflowClient(tracking_uri=auth_server.url).create_workspace(unique("mine"))
    assert refused.value.error_code == "PERMISSION_DENIED"


def test_an_anonymous_caller_gets_401_whatever_workspace_it_names(auth_server: LiveServer) -> None:
    with httpx.Client(base_url=auth_server.url, timeout=30) as http:
        for workspace in (unique("ghost"), "default"):
            response = http.post(
                "/api/2.0/mlflow/experiments/search", json={}, headers={"X-MLFLOW-WORKSPACE": workspace}
            )
            assert response.status_code == 401, response.text


def test_a_browser_without_the_header_acts_in_its_workspace_cookie(auth_server: LiveServer) -> None:
    """What a browser fetches by itself (an image, a download) carries the UI's workspace cookie instead."""
    team, name = unique("team"), unique("cookie-exp")
    with httpx.Client(base_url=auth_server.url, auth=(ADMIN, ADMIN_PASSWORD), timeout=30) as admin:
        assert admin.post("/api/3.0/mlflow/workspaces", json={"name": team}).is_success
        in_team = {"X-MLFLOW-WORKSPACE": team}
        made = admin.post("/api/2.0/mlflow/experiments/create", json={"name": name}, headers=in_team)
        assert made.status_code == 200, made.text
    with httpx.Client(base_url=auth_server.url, timeout=30) as browser:
        assert browser.post("/api/v1/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD}).is_success

        def names(**headers: str) -> list[str]:
            answer = browser.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1000}, headers=headers)
            assert answer.status_code == 200, answer.text
            return [e["name"] for e in answer.json().get("experiments", [])]

        assert name not in names()
        browser.cookies.set("runyard_workspace", team)
        assert name in names()
        # The header, when sent, wins over the cookie.
        assert name not in names(**{"X-MLFLOW-WORKSPACE": "default"})
