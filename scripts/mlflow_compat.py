#!/usr/bin/env python3
"""Generate (or check) docs/mlflow-compatibility.md: every endpoint `mlflow server` serves, and runyard's answer.

The list comes from the installed ``mlflow`` package itself: the Flask app's URL map (the REST services,
GraphQL, the UI's ajax endpoints) and the FastAPI routers ``mlflow server`` mounts beside it (OTLP, jobs,
gateway, assistant, artifacts, server-info), plus the ``basic-auth`` app's routes. Each endpoint is
marked implemented when runyard's app has a route for the same method and path, else it carries the
reason it is not served (``REASONS``, by path prefix). ``tests/unit/test_mlflow_compatibility.py`` runs
``--check``, so a new mlflow release's endpoints, or a route runyard drops, fail the test suite.

Usage::

    .venv/bin/python scripts/mlflow_compat.py          # rewrite the document
    .venv/bin/python scripts/mlflow_compat.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import logging
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "mlflow-compatibility.md"

# Why an endpoint is not served, by the longest matching path prefix (after the API prefix is removed).
REASONS: dict[str, str] = {
    "/mlflow/gateway/budgets": "AI gateway budget policies are not implemented",
    "/mlflow/gateway/guardrails": "AI gateway guardrails are not implemented",
    "/gateway/anthropic": "the gateway forwards the OpenAI-compatible format only (no Anthropic passthrough)",
    "/gateway/gemini": "the gateway forwards the OpenAI-compatible format only (no Gemini passthrough)",
    "/gateway/openai/v1/responses": "the gateway forwards chat completions and embeddings, not the Responses API",
    "/gateway/typesafe": "the gateway forwards the OpenAI-compatible format only (no TypeSafe passthrough)",
    "/gateway/proxy": "the gateway forwards chat completions and embeddings, not arbitrary provider paths",
    "/mlflow/datasets": "evaluation datasets are not implemented",
    "/mlflow/experiments/search-datasets": "evaluation datasets are not implemented",
    "/mlflow/scorers": "scorers are not implemented",
    "/mlflow/webhooks": "webhooks are not implemented",
    "/mlflow/review-queues": "labelling review queues are not implemented",
    "/mlflow/label-schemas": "labelling schemas are not implemented",
    "/mlflow/issues": "issue detection is not implemented",
    "/mlflow/prompt-optimization": "prompt optimisation jobs are not implemented",
    "/mlflow/jobs": "MLflow's server-side job runner is replaced by runyard's compute API (/api/v1/jobs)",
    "/mlflow/assistant": "the assistant is a local MLflow UI feature that runyard does not serve",
    "/mlflow/mcp": "the MCP server is not implemented",
    "/mlflow/demo": "MLflow's demo data generator is not served",
    "/mlflow/ui-telemetry": "runyard's UI sends no telemetry",
    "/mlflow/gateway-proxy": "MLflow's proxy to a separately run deployments server is not served; the gateway "
    "is built in (/gateway/…)",
    "/mlflow/scorer/invoke": "runyard stores scorers but does not run them (invoking a judge needs a model provider)",
    "/mlflow/genai": "online evaluation is not implemented",
    "/mlflow/get-online-trace-details": "online scoring is not implemented",
    "/mlflow/artifacts/presigned": "the artifact proxy streams every transfer; presigned URLs are not issued",
    "/mlflow-artifacts/presigned": "the artifact proxy streams every transfer; presigned URLs are not issued",
    "/static-files": "runyard serves its own web UI, not MLflow's static files",
    "/mlflow/upload-artifact": "the UI upload endpoint is not implemented",
    "/get-artifact": "MLflow UI's artifact endpoint is not served",
    "/model-versions/get-artifact": "MLflow UI's artifact endpoint is not served",
    "/mlflow/traces": "not implemented for this trace call",
    "/mlflow/metrics/get-history-bulk": "MLflow UI's bulk history endpoint is not served",
    "/mlflow/users": "not implemented for this auth call",
    "/mlflow/permissions": "not implemented for this auth call",
    "/mlflow/roles": "not implemented for this auth call",
    "/mlflow/workspaces": "not implemented for this workspace call",
    "/signup": "MLflow's basic-auth HTML sign-up page is not served; create users with the API or `runyard user`",
    "/": "MLflow's own web UI is not served; runyard serves its own at /",
}
API_PREFIX = re.compile(r"^/(ajax-api|api)/[0-9.]+(?=/)")


def _norm(path: str) -> str:
    """One spelling for path parameters (Flask ``<x>``, FastAPI ``{x}``)."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _quietly() -> contextlib.AbstractContextManager[None]:
    logging.disable(logging.WARNING)
    return contextlib.redirect_stderr(io.StringIO())


def mlflow_endpoints() -> list[tuple[str, str, str]]:
    """(group, method, path) of everything ``mlflow server`` (and its basic-auth app) serves."""
    with _quietly():
        from fastapi.routing import iter_route_contexts
        from mlflow.server import app as flask_app
        from mlflow.server import fastapi_app as mlflow_fastapi
    found: set[tuple[str, str, str]] = set()
    for rule in flask_app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.add(("tracking server", method, _norm(rule.rule)))
    for context in iter_route_contexts(mlflow_fastapi.app.routes):
        path, methods = context.path, context.methods
        if path and methods:
            for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
                found.add(("tracking server", method, _norm(path)))
    found.update(("basic-auth app", method, _norm(path)) for method, path in _basic_auth_routes())
    return sorted(found)


def _basic_auth_routes() -> set[tuple[str, str]]:
    """The routes ``mlflow server --app-name basic-auth`` adds, read from its ``add_url_rule`` calls.

    Read from the source rather than by building the app: building it opens the auth database.
    """
    with _quietly():
        from mlflow.server import auth
        from mlflow.server.auth import routes as auth_routes

    tree = ast.parse(Path(auth.__file__).read_text())
    loops: dict[int, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.List):
            names = [element.id for element in node.iter.elts if isinstance(element, ast.Name)]
            for inner in ast.walk(node):
                loops[id(inner)] = names
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_url_rule"):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        rule, methods = keywords.get("rule"), keywords.get("methods")
        if rule is None or not isinstance(methods, ast.List):
            continue
        constants = [rule.id] if isinstance(rule, ast.Name) and rule.id != "rule" else loops.get(id(node), [])
        for constant in constants:
            path = getattr(auth_routes, constant, None)
            if isinstance(path, str):
                found.update((str(m.value), path) for m in methods.elts if isinstance(m, ast.Constant))
    # Role and permission routes are registered from one table: (view, method, REST path, ajax path).
    for _view, method, *paths in getattr(auth, "_RBAC_ROUTES", ()):
        found.update((str(method), str(path)) for path in paths)
    return found


def runyard_routes() -> set[tuple[str, str]]:
    from fastapi.routing import iter_route_contexts

    from runyard.server.app import create_app
    from runyard.settings import ServerSettings

    with tempfile.TemporaryDirectory() as data_dir, _quietly():
        app = create_app(ServerSettings(data_dir=Path(data_dir), local_pool=False))
        routes = set()
        for context in iter_route_contexts(app.routes):
            for method in context.methods or ():
                if context.path:
                    routes.add((method, _norm(context.path)))
    return routes


def _reason(path: str) -> str:
    bare = API_PREFIX.sub("", path)
    for prefix in sorted(REASONS, key=len, reverse=True):
        if bare == prefix or bare.startswith(prefix.rstrip("/") + "/") or (prefix == "/" and bare == "/"):
            return REASONS[prefix]
    return "not implemented"


def _rows() -> Iterator[tuple[str, str, str, str]]:
    ours = runyard_routes()
    for group, method, path in mlflow_endpoints():
        yield group, method, path, "implemented" if (method, path) in ours else f"no: {_reason(path)}"


def render() -> str:
    rows = list(_rows())
    groups = sorted({row[0] for row in rows}, key=lambda group: group != "tracking server")
    lines = [
        "# MLflow compatibility: every endpoint of `mlflow server` 3.17.2",
        "",
        "Generated by `scripts/mlflow_compat.py` from the installed `mlflow` package (its Flask URL map, the",
        "FastAPI routers `mlflow server` mounts and the `basic-auth` app's routes), compared with runyard's",
        "routes. `tests/unit/test_mlflow_compatibility.py` fails when this page is out of date, so endpoints a",
        "new MLflow release adds show up as a failing test. Path parameters are written `{}`.",
        "",
    ]
    for group in groups:
        in_group = [row for row in rows if row[0] == group]
        served = sum(1 for row in in_group if row[3] == "implemented")
        lines += [f"## {group}: {served} of {len(in_group)} served", "", "| method | path | runyard |", "|---|---|---|"]
        lines += [f"| {method} | `{path}` | {answer} |" for _, method, path, answer in in_group]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the document is out of date")
    arguments = parser.parse_args()
    text = render()
    if arguments.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is out of date: run scripts/mlflow_compat.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
