"""Which access rule each route of an app declares (the checked half of "every route declares who may call it")."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from runyard.api.access import access_name


@dataclass(frozen=True, slots=True)
class RouteAccess:
    path: str
    methods: tuple[str, ...]
    rule: str | None  # None: the route declares no rule


def _rules_of(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dependency in dependant.dependencies:
        name = access_name(dependency.call)
        if name is not None:
            found.append(name)
        found.extend(_rules_of(dependency))
    return found


def route_access(app: FastAPI, plain_routes: dict[str, str]) -> list[RouteAccess]:
    """Every route of ``app`` with the rule it declares; ``plain_routes`` names the rules of non-FastAPI routes."""
    result: list[RouteAccess] = []
    for context in iter_route_contexts(app.routes):
        path = context.path or repr(context.original_route)
        methods = tuple(sorted(context.methods or ("*",)))
        dependant: Dependant | None = getattr(context, "dependant", None)
        if isinstance(context.original_route, APIRoute) and dependant is not None:
            rules = _rules_of(dependant)
            result.append(RouteAccess(path, methods, rules[0] if rules else None))
        else:
            result.append(RouteAccess(path, methods, plain_routes.get(path)))
    return result
