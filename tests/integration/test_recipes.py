"""Recipes over the real API and CLI: versioned by content, manifests validated, bundles served back."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from runyard.client import Client, make_bundle
from runyard.errors import InvalidParameter, NotFound
from tests.support.compute import unique, write_recipe
from tests.support.servers import LiveServer

SCHEMA = {
    "type": "object",
    "properties": {"lr": {"type": "number", "default": 0.1}, "epochs": {"type": "integer", "minimum": 1}},
    "required": ["epochs"],
}


@pytest.fixture(params=("sqlite", "postgresql"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(server: LiveServer) -> Client:
    return Client(server.url)


def test_push_versions_by_content(client: Client, tmp_path: Path) -> None:
    name = unique("train")
    directory = write_recipe(tmp_path / "r", name, parameters=SCHEMA, gpus=1)
    first = client.push_recipe(directory)
    assert first["created"] is True
    assert first["recipe"]["version"] == 1
    assert first["recipe"]["manifest"]["entrypoint"] == {"kind": "python", "target": "main.py"}
    assert first["recipe"]["manifest"]["resources"]["gpus"] == 1

    # Same content again (even touched on disk): no new version.
    (directory / "main.py").touch()
    again = client.push_recipe(directory)
    assert again["created"] is False
    assert again["recipe"]["version"] == 1
    assert again["recipe"]["digest"] == first["recipe"]["digest"]

    (directory / "main.py").write_text("print('changed')\n")
    second = client.push_recipe(directory)
    assert second["created"] is True
    assert second["recipe"]["version"] == 2

    shown = client.get_recipe(name)
    assert shown["recipe"]["latest_version"] == 2
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert client.get_recipe_version(name, 1)["digest"] == first["recipe"]["digest"]
    assert name in [r["name"] for r in client.list_recipes(prefix=name)]


def test_bundle_download_round_trips(client: Client, tmp_path: Path) -> None:
    name = unique("dl")
    directory = write_recipe(tmp_path / "r", name, script="print('payload')\n")
    (directory / "data").mkdir()
    (directory / "data" / "table.csv").write_text("a,b\n1,2\n")
    version = client.push_recipe(directory)["recipe"]
    bundle = client.download_recipe_bundle(name, version["version"])
    with tarfile.open(fileobj=io.BytesIO(bundle)) as archive:
        names = sorted(archive.getnames())
        assert names == ["data/table.csv", "main.py", "runyard.yaml"]
        member = archive.extractfile("main.py")
        assert member is not None and member.read() == b"print('payload')\n"
    assert hashlib.sha256(bundle).hexdigest() == hashlib.sha256(make_bundle(directory)).hexdigest()


def _push_raw(server: LiveServer, files: dict[str, bytes], *, symlink: str | None = None) -> httpx.Response:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return httpx.post(f"{server.url}/api/v1/recipes", content=buffer.getvalue(), timeout=30)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"main.py": b"x"}, "has no manifest"),
        ({"runyard.yaml": b"name: [unclosed", "main.py": b""}, "not valid YAML"),
        ({"runyard.yaml": b"name: ok\n", "main.py": b""}, "entrypoint"),
        ({"runyard.yaml": b"name: ok\nentrypoint: main.py\nresources: {gpus: -1}\n"}, "resources.gpus"),
        (
            {
                "runyard.yaml": b"name: ok\nentrypoint: main.py\n"
                b"parameters: {type: object, properties: {a: {type: 3}}}\n"
            },
            "not a valid JSON Schema",
        ),
        ({"../evil.py": b"", "runyard.yaml": b"name: ok\nentrypoint: main.py\n"}, "unsafe path"),
        ({"runyard.yaml": b"name: ok\nentrypoint: main.py\nrequirements: missing.txt\n"}, "requirements"),
    ],
)
def test_bad_bundles_are_refused_with_the_reason(server: LiveServer, files: dict[str, bytes], message: str) -> None:
    response = _push_raw(server, files)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_links_are_refused(server: LiveServer) -> None:
    response = _push_raw(server, {"runyard.yaml": b"name: ok\nentrypoint: main.py\n"}, symlink="passwd")
    assert response.status_code == 400
    assert "link" in response.json()["message"]


def test_not_a_tarball(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/api/v1/recipes", content=b"hello", timeout=30)
    assert response.status_code == 400
    assert "tar.gz" in response.json()["message"]


def test_requirements_file_is_read_into_the_manifest(client: Client, tmp_path: Path) -> None:
    name = unique("reqs")
    directory = write_recipe(tmp_path / "r", name, extra={"requirements": "requirements.txt"})
    (directory / "requirements.txt").write_text("# pinned\nnumpy>=1.26\n\nrich\n")
    version = client.push_recipe(directory)["recipe"]
    assert version["manifest"]["requirements"] == ["numpy>=1.26", "rich"]


def test_unknown_recipe_and_version(client: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        client.get_recipe(unique("missing"))
    name = unique("one")
    client.push_recipe(write_recipe(tmp_path / "r", name))
    with pytest.raises(NotFound, match="no version 7"):
        client.get_recipe_version(name, 7)
    with pytest.raises(InvalidParameter):
        client.get_recipe_version(name, "seven")


def test_cli_push_ls_show(server: LiveServer, tmp_path: Path) -> None:
    name = unique("cli")
    directory = write_recipe(tmp_path / "r", name, parameters=SCHEMA)
    env = {**server.env, "RUNYARD_SERVER_URL": server.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runyard", *args], env=env, capture_output=True, text=True, timeout=60
        )

    pushed = run("recipe", "push", str(directory))
    assert pushed.returncode == 0, pushed.stderr
    assert f"pushed recipe {name} version 1" in pushed.stdout
    assert "unchanged" in run("recipe", "push", str(directory)).stdout
    listed = run("recipe", "ls", "--prefix", name)
    assert name in listed.stdout
    shown = run("recipe", "show", f"{name}:1")
    assert "epochs" in shown.stdout and "integer" in shown.stdout
    missing = run("recipe", "push", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "not a directory" in missing.stderr
