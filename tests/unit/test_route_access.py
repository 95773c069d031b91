"""Every route of the app declares who may call it; a route without a declaration fails this test."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from runyard.api import access
from runyard.server.app import PLAIN_ROUTES_ACCESS, create_app
from runyard.server.routes import route_access
from runyard.settings import ServerSettings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir: Path = tmp_path_factory.mktemp("route-access")
    return create_app(ServerSettings(data_dir=data_dir, local_pool=False))


def test_every_route_declares_an_access_rule(app: FastAPI) -> None:
    routes = route_access(app, PLAIN_ROUTES_ACCESS)
    assert len(routes) > 150
    undeclared = [f"{' '.join(route.methods)} {route.path}" for route in routes if route.rule is None]
    assert undeclared == [], "routes without an access rule (add dependencies=[access.…]):\n" + "\n".join(undeclared)


def test_a_route_without_a_rule_is_reported() -> None:
    router = APIRouter()

    @router.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    @router.get("/guarded", dependencies=[access.admin])
    async def guarded_route() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    rules = {route.path: route.rule for route in route_access(app, {})}
    assert rules["/open"] is None
    assert rules["/guarded"] == "admin"


def test_operator_endpoints_are_public_and_agent_endpoints_are_not(app: FastAPI) -> None:
    rules = {(route.path, route.methods): route.rule for route in route_access(app, PLAIN_ROUTES_ACCESS)}
    assert rules[("/health", ("GET",))] == "public"
    assert rules[("/ready", ("GET",))] == "public"
    assert rules[("/api/v1/workers/register", ("POST",))] == "agent"
    assert rules[("/api/v1/jobs/{job_id}/attempts/{attempt}/status", ("POST",))] == "agent"
    assert rules[("/api/v1/pools/{name}", ("PUT",))] == "admin"
    assert rules[("/api/2.0/mlflow/experiments/delete", ("POST",))] == "experiment:MANAGE"
