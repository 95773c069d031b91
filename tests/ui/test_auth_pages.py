"""Signing in, the user menu, personal tokens and the workspace switcher, as a person uses them, with auth on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer
from tests.ui.conftest import ConsoleLog

ADMIN, ADMIN_PASSWORD = "admin", "first admin password"
PASSWORD = "a long user password"
AUTH_ENV = {
    "RUNYARD_AUTH_ENABLED": "true",
    "RUNYARD_COOKIE_SECRET": "c" * 64,
    "RUNYARD_ADMIN_USERNAME": ADMIN,
    "RUNYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "RUNYARD_DEFAULT_ROLE": "editor",
}
_servers: dict[str, LiveServer] = {}


@pytest.fixture
def auth_server(server_pool: ServerPool) -> LiveServer:
    if "s" not in _servers:
        _servers["s"] = server_pool.start_new("sqlite", extra_env=AUTH_ENV)
    return _servers["s"]


@pytest.fixture
def auth_page(browser: Browser, auth_server: LiveServer, console: ConsoleLog) -> Iterator[Page]:
    context = browser.new_context(base_url=auth_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", console.on_console)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert console.errors == [], "console errors in the page"


def _experiment(admin: httpx.Client, name: str, workspace: str) -> None:
    created = admin.post(
        "/api/2.0/mlflow/experiments/create", json={"name": name}, headers={"X-MLFLOW-WORKSPACE": workspace}
    )
    assert created.status_code == 200, created.text


def _readers_of(admin: httpx.Client, workspace: str, user: str) -> None:
    """A role in ``workspace`` that reads its experiments, given to ``user``."""
    role = admin.post("/api/3.0/mlflow/roles/create", json={"workspace": workspace, "name": "readers"})
    assert role.status_code == 200, role.text
    role_id = role.json()["role"]["id"]
    permission = {"role_id": role_id, "resource_type": "experiment", "resource_pattern": "*", "permission": "READ"}
    assert admin.post("/api/3.0/mlflow/roles/permissions/add", json=permission).is_success
    assigned = admin.post("/api/3.0/mlflow/roles/assign", json={"username": user, "role_id": role_id})
    assert assigned.is_success, assigned.text


def test_sign_in_tokens_workspaces_and_sign_out(auth_page: Page, auth_server: LiveServer) -> None:
    page = auth_page
    user, team = unique("alice"), unique("team")
    home, theirs = unique("home-exp"), unique("team-exp")
    with httpx.Client(base_url=auth_server.url, auth=(ADMIN, ADMIN_PASSWORD), timeout=30) as admin:
        assert admin.post("/api/2.0/mlflow/users/create", json={"username": user, "password": PASSWORD}).is_success
        assert admin.post("/api/3.0/mlflow/workspaces", json={"name": team}).is_success
        _readers_of(admin, team, user)
        _experiment(admin, home, "default")
        _experiment(admin, theirs, team)

    # Not signed in: the UI shows its login page, whatever page was asked for.
    page.goto("/#/experiments")
    expect(page.get_by_role("heading", name="Sign in to runyard")).to_be_visible()
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    menu = page.get_by_role("button", name="User menu")
    expect(menu).to_have_text(user)
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=home)).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text=theirs)).to_have_count(0)

    # A personal token: shown once, works, and stops working when revoked.
    menu.click()
    page.get_by_role("menuitem", name="Tokens").click()
    expect(page.get_by_role("heading", name="Tokens", exact=True)).to_be_visible()
    page.get_by_label("Token name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_role("status", name="New token secret").locator("code").inner_text()
    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=auth_server.url, headers=bearer, timeout=30) as script:
        assert script.get("/api/v1/auth/me").json()["name"] == user
        expect(page.get_by_role("row").filter(has_text="ci")).to_have_count(1)
        page.get_by_role("button", name="Revoke ci").click()
        expect(page.get_by_text("No tokens yet.")).to_be_visible()
        expect(page.get_by_role("status", name="New token secret")).to_have_count(0)
        assert script.get("/api/v1/auth/me").status_code == 401

    # The workspace switcher: the other workspace's experiments only, and the choice is remembered.
    page.get_by_label("Workspace").select_option(team)
    expect(page.get_by_role("row").filter(has_text=theirs)).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text=home)).to_have_count(0)
    page.reload()
    expect(page.get_by_label("Workspace")).to_have_value(team)
    expect(page.get_by_role("row").filter(has_text=theirs)).to_have_count(1)
    page.get_by_label("Workspace").select_option("default")
    expect(page.get_by_role("row").filter(has_text=home)).to_have_count(1)

    # Signing out ends the session: back to the login page, and the pages stay closed.
    page.get_by_role("button", name="User menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to runyard")).to_be_visible()
    page.goto("/#/models")
    expect(page.get_by_role("heading", name="Sign in to runyard")).to_be_visible()
    expect(page.get_by_role("button", name="User menu")).to_have_count(0)


def test_a_wrong_password_is_told_on_the_login_page(auth_page: Page, console: ConsoleLog) -> None:
    console.expected.append("/api/v1/auth/login")
    auth_page.goto("/")
    auth_page.get_by_label("Username").fill(unique("nobody"))
    auth_page.get_by_label("Password").fill("not the password at all")
    auth_page.get_by_role("button", name="Sign in").click()
    expect(auth_page.get_by_role("alert")).to_contain_text("Wrong username or password.")
    expect(auth_page.get_by_role("heading", name="Sign in to runyard")).to_be_visible()
