"""The web UI at ``/``: the bundle, its cache headers, client routes, and the API left untouched."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from runyard.ui import mount_ui
from runyard.ui.mount import is_built
from tests.conftest import ServerPool
from tests.support.servers import LiveServer
from tests.support.services import require


@pytest.fixture
def server(server_pool: ServerPool) -> LiveServer:
    return server_pool.get("sqlite")


def test_the_bundle_is_served_with_long_lived_hashed_assets(server: LiveServer) -> None:
    require(is_built(), "the web UI bundle is not built (scripts/build-ui)")
    with httpx.Client(base_url=server.url) as http:
        index = http.get("/")
        assert index.status_code == 200 and index.headers["cache-control"] == "no-cache"
        assert '<div id="root">' in index.text
        asset = index.text.split('src="./', 1)[1].split('"', 1)[0]
        script = http.get("/" + asset)
        assert script.status_code == 200
        assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
        # Client routes live in the fragment (/#/experiments/1); other paths are unknown, as before the UI.
        assert http.get("/index.html").text == index.text
        for path in ("/experiments/1", "/assets/missing-0000.js", "/.sources-digest"):
            missing = http.get(path)
            assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND", path


def test_api_paths_keep_their_json_404s(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        for method, path in [("GET", "/api/2.0/mlflow/nope"), ("POST", "/api/v1/nope"), ("GET", "/ajax-api/2.0/x")]:
            response = http.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert http.get("/health").json() == {"status": "ok"}


def test_without_a_bundle_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    # In-process app: a server process always uses the installed bundle, and this is about its absence.
    app = FastAPI()
    mount_ui(app, static_dir=tmp_path / "static")

    async def get_root() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui") as http:
            return await http.get("/")

    # In its own thread: a browser test in this worker may have left an event loop on the main thread.
    with ThreadPoolExecutor(1) as pool:
        page = pool.submit(asyncio.run, get_root()).result()
    assert page.status_code == 200 and "npm ci &amp;&amp; npm run build" in page.text
