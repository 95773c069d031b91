"""The artifact proxy cannot swap stored recipe bundles or registry copies, however the path is spelled.

Requests go out through ``http.client`` so paths reach the server exactly as written (``httpx``
would remove ``./`` and ``../`` segments itself, which an attacker's client need not do).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.support.compute import unique
from tests.support.servers import LiveServer

PROXY = "/api/2.0/mlflow-artifacts"


@pytest.fixture(params=("sqlite",))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _raw(server: LiveServer, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else {}
    finally:
        connection.close()


def _push_recipe(server: LiveServer) -> dict[str, object]:
    name = unique("guarded")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, content in ((("runyard.yaml"), f"name: {name}\nentrypoint: main.py\n".encode()), ("main.py", b"")):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    response = httpx.post(f"{server.url}/api/v1/recipes", content=buffer.getvalue(), timeout=30)
    assert response.status_code == 201, response.text
    recipe: dict[str, object] = response.json()["recipe"]
    return recipe


def _bundle_bytes(server: LiveServer, recipe: dict[str, object]) -> bytes:
    response = httpx.get(f"{server.url}{recipe['bundle_url']}", timeout=30)
    assert response.status_code == 200
    return response.content


def _spellings(path: str) -> list[str]:
    """The stored path as an attacker might write it to get past a literal prefix check."""
    head, _, rest = path.partition("/")
    encoded_head = "".join(f"%{ord(c):02x}" for c in head)
    return [
        path,
        f"./{path}",
        f".//{path}",
        f"x/../{path}",
        f"a/b/../../{path}",
        f"{encoded_head}/{rest}",  # decoded once by the HTTP server
        f"%25{ord(head[0]):02x}{head[1:]}/{rest}",  # decoded twice (a layer that decodes again)
        f"{head.upper()}/{rest}",  # a case-insensitive filesystem or gateway
    ]


def test_recipe_bundles_cannot_be_overwritten_or_deleted_through_the_proxy(server: LiveServer) -> None:
    recipe = _push_recipe(server)
    original = _bundle_bytes(server, recipe)
    stored = f"recipes/{recipe['name']}/{str(recipe['digest']).split(':', 1)[1]}.tar.gz"
    evil = b"not the bundle the recipe was pushed with"
    for spelling in _spellings(stored):
        status, body = _raw(server, "PUT", f"{PROXY}/artifacts/{spelling}", evil)
        assert status == 403, (spelling, status, body)
        assert body["error_code"] == "PERMISSION_DENIED"
        assert "Recipe bundles cannot be written" in str(body["message"])
        status, body = _raw(server, "DELETE", f"{PROXY}/artifacts/{spelling}")
        assert status == 403, (spelling, status, body)
        status, body = _raw(server, "GET", f"{PROXY}/artifacts/{spelling}")
        assert status == 403, (spelling, status, body)
        assert "/api/v1/recipes/NAME/versions/N/bundle" in str(body["message"])
    # The agents' copy is untouched and still matches what was pushed.
    assert _bundle_bytes(server, recipe) == original
    assert hashlib.sha256(_bundle_bytes(server, recipe)).digest() == hashlib.sha256(original).digest()
    # Nor can they be listed through the proxy.
    status, _ = _raw(server, "GET", f"{PROXY}/artifacts?path=./recipes")
    assert status == 403


def test_multipart_uploads_cannot_target_reserved_areas(server: LiveServer) -> None:
    for directory in ("recipes/x", "./recipes", "a/../_registry/m", "%5fregistry/m"):
        for action in ("create", "complete", "abort"):
            payload = json.dumps({"path": "model.pkl", "num_parts": 1, "upload_id": "u1"}).encode()
            status, body = _raw(server, "POST", f"{PROXY}/mpu/{action}/{directory}", payload)
            assert status == 403, (action, directory, status, body)
    status, body = _raw(server, "PUT", f"{PROXY}/mpu/part/./recipes/x/b.tar.gz?upload_id=u&part_number=1", b"x")
    assert status == 403, body


def test_registry_copies_cannot_be_written_under_any_spelling(server: LiveServer) -> None:
    for spelling in _spellings("_registry/models/m/1/model.pkl"):
        status, body = _raw(server, "PUT", f"{PROXY}/artifacts/{spelling}", b"evil")
        assert status == 403, (spelling, status, body)
        assert body["error_code"] == "PERMISSION_DENIED"
        status, _ = _raw(server, "DELETE", f"{PROXY}/artifacts/{spelling}")
        assert status == 403, spelling
    # Before the fix ``./_registry/x`` was written into the artifact store; nothing is there now.
    assert not (Path(server.artifacts) / "_registry").exists()
    assert not (Path(server.artifacts) / "_REGISTRY").exists()


def test_other_artifacts_are_still_written_read_and_deleted(server: LiveServer) -> None:
    # Only the top-level folder is reserved: a run's own "recipes" folder is an ordinary artifact.
    path = f"0/{unique('run')}/artifacts/recipes/notes.txt"
    assert _raw(server, "PUT", f"{PROXY}/artifacts/{path}", b"hello")[0] == 200
    response = httpx.get(f"{server.url}{PROXY}/artifacts/{path}", timeout=30)
    assert response.status_code == 200 and response.content == b"hello"
    assert _raw(server, "DELETE", f"{PROXY}/artifacts/./{path}")[0] == 200
