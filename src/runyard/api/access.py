"""Who may call a route: every route declares one rule from here, and a test fails a route that does not.

A rule is a FastAPI dependency marked with ``ACCESS_MARKER``; it checks the acting principal before the
handler runs (401 when no one is authenticated, 403 when the principal lacks the permission). Rules on
a resource (``requires("experiment", Level.EDIT)``) check here what can be known from the principal
alone; the handler's service checks the grant on the resource itself. With auth off the principal is
the local operator, who passes every rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends
from fastapi.params import Depends as DependsParam
from starlette.requests import Request

from runyard.api import access_targets as targets
from runyard.api.deps import PrincipalDep, current_principal, platform_of
from runyard.domain.identity import Level, Principal
from runyard.errors import PermissionDenied, Unauthenticated
from runyard.services.access_checks import AccessChecker, Target
from runyard.services.identity_permissions import Readable

ACCESS_MARKER = "__runyard_access__"

Check = Callable[[Principal], None]


def rule(name: str, check: Check) -> DependsParam:
    """A route dependency that applies ``check`` to the acting principal."""

    def enforce(principal: PrincipalDep) -> Principal:
        check(principal)
        return principal

    setattr(enforce, ACCESS_MARKER, name)
    enforce.__name__ = f"access_{name.replace(':', '_').replace('-', '_')}"
    dependency: DependsParam = Depends(enforce)
    return dependency


def access_name(dependency: Any) -> str | None:
    """The rule a dependency callable declares, if it is one."""
    name = getattr(dependency, ACCESS_MARKER, None)
    return name if isinstance(name, str) else None


def _anyone(principal: Principal) -> None:
    del principal


def _signed_in(principal: Principal) -> None:
    if not principal.is_authenticated:
        raise Unauthenticated("authentication required: send a token or a user name and password")


def _person(principal: Principal) -> None:
    """A user or service account (or the local operator), not a worker's or a job's credential."""
    _signed_in(principal)
    if principal.kind in ("agent", "job"):
        raise PermissionDenied(f"a {principal.kind} credential cannot call this endpoint")


def _admin(principal: Principal) -> None:
    _person(principal)
    if not principal.is_admin:
        raise PermissionDenied("this endpoint needs an administrator")


def _agent(principal: Principal) -> None:
    _signed_in(principal)
    if principal.kind != "agent" and not principal.is_admin:
        raise PermissionDenied("this endpoint needs an agent token (runyard token create --agent --pool NAME)")


def _job_or_person(principal: Principal) -> None:
    """People, and jobs acting on their own run (the service checks which run)."""
    _signed_in(principal)
    if principal.kind == "agent":
        raise PermissionDenied("an agent credential cannot call this endpoint")


# Health, readiness, login and server-info: callable by anyone.
public = rule("public", _anyone)
# Any authenticated principal, workers' and jobs' credentials included ("who am I").
signed_in = rule("signed-in", _signed_in)
# Any authenticated person (user, service account); what they see is filtered by their grants.
authenticated = rule("authenticated", _person)
admin = rule("admin", _admin)
# The tracking API, which jobs call with their own scoped token as well.
job_or_person = rule("job-or-person", _job_or_person)


def _callers(*, jobs: bool, agents: bool) -> Check:
    def check(principal: Principal) -> None:
        _signed_in(principal)
        if principal.kind == "job" and not jobs:
            raise PermissionDenied("a job credential cannot call this endpoint")
        if principal.kind == "agent" and not agents:
            raise PermissionDenied("an agent credential cannot call this endpoint")

    return check


def requires(
    resource: str, level: Level, *, jobs: bool = False, agents: bool = False, listing: bool = False
) -> DependsParam:
    """A permission ``level`` on a ``resource``, checked on the resource the request names.

    ``jobs``: a job's own token may call it too (tracking calls on its own run, its own bundle).
    ``agents``: an agent token may call it too (fetching bundles, uploading outputs of its attempts).
    ``listing``: a search whose results the handler always restricts to what the principal may read,
    even when the request names experiments (results may belong to other experiments as well).
    """
    callers = _callers(jobs=jobs, agents=agents)

    async def enforce(request: Request, principal: PrincipalDep) -> Principal:
        callers(principal)
        if principal.kind == "local" or principal.is_admin:
            return principal
        checker = _checker(request)
        if checker is None:
            return principal
        target = await targets.extract(request)
        if checker.allowed_from_cache(principal, resource, level, target):
            return principal  # the hot tracking path (log-metric on a known run): no query
        await platform_of(request).read(lambda c: checker.authorize(c, principal, resource, level, target))
        if level == Level.READ and resource in LISTED and (listing or target.names_nothing()):
            # A search or list: the handler restricts its query to what the principal may read.
            request.state.readable = await platform_of(request).read(
                lambda c: checker.readable(c, principal, LISTED[resource])
            )
        return principal

    name = f"{resource}:{level.name}"
    setattr(enforce, ACCESS_MARKER, name)
    enforce.__name__ = f"access_{name.replace(':', '_').replace('-', '_')}"
    dependency: DependsParam = Depends(enforce)
    return dependency


# Searches whose results are restricted to what the principal may read, by the grant type that governs them.
LISTED = {"experiment": "experiment", "registered_model": "registered_model", "job": "queue"}


def readable_of(request: Request) -> Readable | None:
    """What the current search may return (set by its access rule; None: everything)."""
    readable = getattr(request.state, "readable", None)
    return readable if isinstance(readable, Readable) else None


async def authorize(request: Request, resource: str, level: Level, target: Target) -> None:
    """The check a ``requires`` rule makes, for a handler that learns what it acts on from its own
    parsing (a GraphQL document names runs and experiments in its variables, not in MLflow's fields).
    """
    principal = current_principal(request)
    if principal.kind == "local" or principal.is_admin:
        return
    checker = _checker(request)
    if checker is not None:
        await platform_of(request).read(lambda c: checker.authorize(c, principal, resource, level, target))


async def readable_for(request: Request, resource: str) -> Readable | None:
    """What the acting principal may read of ``resource`` (a ``LISTED`` type), for a handler that
    searches without a ``requires(..., listing=True)`` rule; None: everything."""
    principal = current_principal(request)
    checker = _checker(request)
    if principal.kind == "local" or principal.is_admin or checker is None:
        return None
    return await platform_of(request).read(lambda c: checker.readable(c, principal, LISTED[resource]))


async def permitted(request: Request, resource_type: str, ids: list[str], level: Level) -> set[str]:
    """Those of ``ids`` on which the acting principal holds ``level`` (all of them with auth off)."""
    principal = current_principal(request)
    checker = _checker(request)
    if principal.kind == "local" or principal.is_admin or checker is None:
        return set(ids)
    return await platform_of(request).read(lambda c: checker.permitted(c, principal, resource_type, ids, level))


def _checker(request: Request) -> AccessChecker | None:
    authenticator = platform_of(request).authenticator
    checker = getattr(authenticator, "access", None)
    return checker if isinstance(checker, AccessChecker) else None


def _agent_rule() -> DependsParam:
    async def enforce(request: Request, principal: PrincipalDep) -> Principal:
        _agent(principal)
        checker = _checker(request)
        if checker is not None and principal.kind == "agent":
            target = await targets.extract(request)
            await platform_of(request).read(lambda c: checker.authorize_agent(c, principal, target))
        return principal

    setattr(enforce, ACCESS_MARKER, "agent")
    enforce.__name__ = "access_agent"
    dependency: DependsParam = Depends(enforce)
    return dependency


# The agent side of the compute protocol: an agent token acts only for its own pool's workers.
agent = _agent_rule()
