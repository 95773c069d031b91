"""Identity routes: MLflow's basic-auth user and RBAC API, API tokens, browser sessions."""

from __future__ import annotations

from fastapi import APIRouter

from runyard.api.auth import mlflow_roles, mlflow_users, sessions, tokens


def auth_router() -> APIRouter:
    """Every identity route, with full paths (MLflow's at their REST and ajax prefixes, ours under /api/v1)."""
    router = APIRouter()
    router.include_router(mlflow_users.router)
    router.include_router(mlflow_roles.router)
    router.include_router(tokens.router, prefix="/api/v1")
    router.include_router(sessions.router, prefix="/api/v1")
    return router
