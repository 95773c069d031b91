"""Serving the built web UI at ``/``, beside the API.

The bundle (``static/``, written by the build hook, git-ignored) is ``index.html`` plus content-hashed
files under ``assets/``: those never change under the same name, so they are cached for a year;
``index.html`` is revalidated on every load so a new release is picked up at once. The UI routes with
URL fragments (``/#/experiments/1``), so every client route is ``/`` to the server: only ``/`` (and
``/index.html``) answer ``index.html``, and any other unknown path keeps the API's JSON 404. API paths
are never matched here, whatever order routes were added in.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
# Paths the UI never answers: the API families and the operational endpoints.
RESERVED_PREFIXES = ("/api/", "/ajax-api/", "/health", "/ready", "/metrics", "/get-artifact", "/docs", "/openapi")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>runyard</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>runyard</h1>
<p>The server is running, but this installation has no web UI bundle.</p>
<p>Build it from a source checkout with Node.js 20 or newer:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>(or run <code>scripts/bootstrap</code>, which does the same), then restart the server.
The API is unaffected: <a href="/health">/health</a>, <code>/api/2.0/mlflow/…</code>, <code>/api/v1/…</code>.</p>
</body></html>
"""


class HashedAssets(StaticFiles):
    """Static files whose names carry their content hash: cacheable forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = IMMUTABLE
        return response


class _AppRoute(Route):
    """A route that never matches API paths, so it cannot shadow one or turn its 404 into a 405."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(RESERVED_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def is_built(static_dir: Path = STATIC_DIR) -> bool:
    return (static_dir / "index.html").is_file()


def mount_ui(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the web UI from ``static_dir`` at ``/`` (a page saying how to build it when it is absent)."""
    index = static_dir / "index.html"

    async def app_page(request: Request) -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT_PAGE, headers={"cache-control": REVALIDATE})
        # "/" is the app; a top-level file of the bundle (favicon…) is served by name; anything else is
        # an unknown path (404 JSON, like any other).
        name = request.path_params.get("path", "")
        candidate = (static_dir / name).resolve()
        if name and not name.startswith(".") and candidate.is_file() and candidate.is_relative_to(static_dir.resolve()):
            return FileResponse(candidate, headers={"cache-control": REVALIDATE})
        if name:
            raise HTTPException(404, "Not Found")
        return FileResponse(index, headers={"cache-control": REVALIDATE})

    if (static_dir / "assets").is_dir():
        app.mount("/assets", HashedAssets(directory=static_dir / "assets"), name="ui-assets")
    app.router.routes.append(_AppRoute("/", app_page, methods=["GET", "HEAD"], include_in_schema=False))
    app.router.routes.append(_AppRoute("/{path:path}", app_page, methods=["GET", "HEAD"], include_in_schema=False))
