"""Who is acting, and how much they may do: principals and MLflow's permission levels.

A principal is resolved once per request (by the server's identity resolution) and handed to routes
and services; nothing below the server inspects credentials. With auth off every request acts as the
local operator, who may do everything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

DEFAULT_WORKSPACE = "default"

PrincipalKind = Literal["local", "anonymous", "user", "service", "agent", "job"]
CredentialKind = Literal["none", "password", "token", "session", "job"]


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
    experiment_id: str | None = None


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
    # Set for service-account tokens: the role (in ``workspace``) whose grants the token acts with.
    role: str | None = None
    # How the credential arrived: state-changing requests carried by a browser cookie ("session")
    # must prove their origin (CSRF); the others cannot be sent by a foreign page.
    via: CredentialKind = "none"
    # The session's anti-CSRF token (sessions only), for clients that cannot send a matching Origin.
    csrf_token: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"


# Auth off: the operator of a single-user installation.
LOCAL_PRINCIPAL = Principal(kind="local", name="local", is_admin=True)
ANONYMOUS = Principal(kind="anonymous", name="anonymous")


# --- Users, tokens, roles: the records identity services hand out (no password hashes here). ---

TokenKind = Literal["personal", "service", "agent"]

# MLflow's permission names (``mlflow/server/auth/permissions.py``). DENY is an explicit veto that
# wins over any positive grant it is folded with; it has no place on the ordered ``Level`` scale.
DENY = "DENY"
PERMISSION_NAMES = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS", DENY)
GRANTABLE_ON_RESOURCE = frozenset({"READ", "USE", "EDIT", "MANAGE", DENY})
GRANTABLE_ON_WORKSPACE = frozenset({"USE", "MANAGE"})

RESOURCE_WORKSPACE = "workspace"
# Resource types whose grants may name one resource; the others accept only "*" (MLflow's TYPE table).
RESOURCE_TYPES_WITH_ID = frozenset(
    {
        "experiment",
        "registered_model",
        "prompt",
        "scorer",
        "gateway_secret",
        "gateway_endpoint",
        "gateway_model_definition",
        "mcp_server",
        # runyard's own: compute queues (submit/cancel/retry need a grant on the queue) and recipes.
        "queue",
        "recipe",
    }
)
RESOURCE_TYPES_WILDCARD_ONLY = frozenset(
    {
        RESOURCE_WORKSPACE,
        "run",
        "trace",
        "assessment",
        "logged_model",
        "review_queue",
        "registered_model_version",
        "prompt_version",
        "scorer_version",
        "mcp_server_version",
    }
)
RESOURCE_TYPES = RESOURCE_TYPES_WITH_ID | RESOURCE_TYPES_WILDCARD_ONLY

# A user's own grants live in a synthetic per-user role in each workspace, as MLflow 3.17 does.
# The roles every workspace has (their grants are in ``services.identity_permissions``).
BUILTIN_ROLE_NAMES = ("viewer", "editor", "admin")
# ``RUNYARD_DEFAULT_ROLE`` value that gives new users no role at all.
NO_DEFAULT_ROLE = "none"

USER_ROLE_PREFIX = "__user_"


def user_role_name(user_id: int) -> str:
    return f"{USER_ROLE_PREFIX}{user_id}__"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str | None
    is_admin: bool
    disabled: bool
    creation_time: int


@dataclass(frozen=True, slots=True)
class Token:
    """An API token as listed (its secret is shown once, at creation, and never stored)."""

    id: int
    name: str
    kind: TokenKind
    owner: str
    workspace: str | None
    role: str | None
    pool: str | None
    creation_time: int
    expires_at: int | None
    last_used_at: int | None


@dataclass(frozen=True, slots=True)
class Grant:
    """One row of a role's permissions: ``permission`` on resources of a type matching a pattern."""

    resource_type: str
    resource_pattern: str
    permission: str


def level_of(permission: str) -> Level:
    """The ordered level of a permission name (DENY counts as nothing on its own)."""
    if permission in (DENY, "NO_PERMISSIONS"):
        return Level.NO_PERMISSIONS
    return Level[permission]


def grant_matches(grant: Grant, resource_type: str, resource_id: str | None) -> bool:
    if grant.resource_type != resource_type:
        return False
    if grant.resource_pattern == "*":
        return True
    return resource_type in RESOURCE_TYPES_WITH_ID and grant.resource_pattern == resource_id


def fold_grants(grants: Iterable[Grant], resource_type: str, resource_id: str | None) -> str | None:
    """The permission ``grants`` give on one resource: DENY if any matching grant denies, else the
    highest matching one, or None when no grant matches (the caller applies its default)."""
    best: str | None = None
    for grant in grants:
        if not grant_matches(grant, resource_type, resource_id):
            continue
        if grant.permission == DENY:
            return DENY
        if best is None or level_of(grant.permission) > level_of(best):
            best = grant.permission
    return best


def effective_level(grants: Sequence[Grant], resource_type: str, resource_id: str | None) -> Level:
    """What a non-admin member holding ``grants`` in a workspace may do to one resource.

    A workspace MANAGE grant makes a workspace admin (not restrictable, as in MLflow); otherwise a
    DENY on the resource vetoes; otherwise the best matching grant; no grant means no access.
    """
    if any(g.resource_type == RESOURCE_WORKSPACE and g.permission == "MANAGE" for g in grants):
        return Level.MANAGE
    folded = fold_grants(grants, resource_type, resource_id)
    if folded is None or folded == DENY:
        return Level.NO_PERMISSIONS
    return level_of(folded)


def check_grant(resource_type: str, resource_pattern: str, permission: str) -> None:
    """Refuse a grant MLflow would refuse, with MLflow's reasons (raises ``ValueError``)."""
    if permission not in PERMISSION_NAMES:
        raise ValueError(f"Invalid permission '{permission}'. Valid permissions are: {PERMISSION_NAMES}")
    if resource_type not in RESOURCE_TYPES:
        raise ValueError(
            f"Invalid resource type '{resource_type}'. Valid resource types are: {tuple(sorted(RESOURCE_TYPES))}"
        )
    if resource_type == RESOURCE_WORKSPACE:
        if permission not in GRANTABLE_ON_WORKSPACE:
            raise ValueError(
                f"Invalid permission '{permission}' for resource_type='workspace'. "
                f"Workspace-wide grants accept only: {tuple(sorted(GRANTABLE_ON_WORKSPACE))}."
            )
    elif permission not in GRANTABLE_ON_RESOURCE:
        raise ValueError(
            f"Invalid permission '{permission}' for resource_type='{resource_type}'. "
            f"Resource-level grants accept only: {tuple(sorted(GRANTABLE_ON_RESOURCE))}."
        )
    if resource_pattern != "*" and resource_type not in RESOURCE_TYPES_WITH_ID:
        raise ValueError(
            f"Invalid resource_pattern '{resource_pattern}' for resource_type='{resource_type}'. "
            "This resource type supports only wildcard ('*') grants."
        )
    if not resource_pattern:
        raise ValueError("resource_pattern must not be empty")
