"""Who is acting, and how much they may do: principals and MLflow's permission levels.

A principal is resolved once per request (by the server's identity resolution) and handed to routes
and services; nothing below the server inspects credentials. With auth off every request acts as the
local operator, who may do everything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

DEFAULT_WORKSPACE = "default"

PrincipalKind = Literal["local", "anonymous", "user", "service", "agent", "job"]


class Level(enum.IntEnum):
    """MLflow's permission levels, ordered (``mlflow/server/auth/permissions.py``); DENY is kept apart."""

    NO_PERMISSIONS = 0
    READ = 1
    USE = 2
    EDIT = 3
    MANAGE = 4


@dataclass(frozen=True, slots=True)
class JobScope:
    """What a job's own token is bound to: one attempt, its run and its bundle."""

    job_id: int
    attempt: int
    run_id: str
    recipe: str


@dataclass(frozen=True, slots=True)
class Principal:
    """The acting identity of one request."""

    kind: PrincipalKind
    name: str
    is_admin: bool = False
    user_id: int | None = None
    workspace: str = DEFAULT_WORKSPACE
    # Set for agent tokens: the one pool whose workers this principal may act as.
    pool: str | None = None
    # Set for job tokens: the attempt the token belongs to.
    job: JobScope | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"


# Auth off: the operator of a single-user installation.
LOCAL_PRINCIPAL = Principal(kind="local", name="local", is_admin=True)
ANONYMOUS = Principal(kind="anonymous", name="anonymous")
