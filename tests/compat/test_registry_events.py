"""The registry audit log (``GET /api/v1/registry/events``) and the ``runyard model`` CLI against a live
server: every promotion is recorded with who and when, and operators can read it back filtered."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from runyard.cli.app import app
from tests.conftest import unique
from tests.support.registry import model_files, new_version
from tests.support.servers import LiveServer

MLFLOW = "/api/2.0/mlflow"
EVENTS = "/api/v1/registry/events"


def test_events_record_who_and_when(mlflow_client, server: LiveServer):  # type: ignore[no-untyped-def]
    started = int(time.time() * 1000)
    version = new_version(mlflow_client)
    name = version.name
    new_version(mlflow_client, name)
    basic = base64.b64encode(b"carol:secret").decode()
    with httpx.Client(base_url=server.url) as http:
        alias = {"name": name, "alias": "champion", "version": "1"}
        assert http.post(
            f"{MLFLOW}/registered-models/alias", json=alias, headers={"X-Runyard-User": "alice"}
        ).is_success
        alias["version"] = "2"
        assert http.post(f"{MLFLOW}/registered-models/alias", json=alias, headers={"X-Runyard-User": "bob"}).is_success
        stage = {"name": name, "version": "2", "stage": "Production"}
        transition = http.post(
            f"{MLFLOW}/model-versions/transition-stage", json=stage, headers={"Authorization": f"Basic {basic}"}
        )
        assert transition.is_success
        deleted = http.request("DELETE", f"{MLFLOW}/model-versions/delete", json={"name": name, "version": "1"})
        assert deleted.is_success

        events = http.get(EVENTS, params={"name": name}).json()["events"]
        kinds = [e["event_type"] for e in events]
        assert kinds == [
            "model_version.deleted",
            "model_version.stage_changed",
            "alias.set",
            "alias.set",
            "model_version.ready",
            "model_version.created",
            "model_version.ready",
            "model_version.created",
            "registered_model.created",
        ]
        moved = events[2]
        assert (moved["user"], moved["version"], moved["details"]) == (
            "bob",
            2,
            {"alias": "champion", "from_version": 1, "to_version": 2},
        )
        assert events[3]["user"] == "alice"
        assert events[1]["user"] == "carol"
        assert events[1]["details"] == {"from_stage": "None", "to_stage": "Production"}
        assert events[0]["user"] == "anonymous"
        assert all(e["timestamp"] >= started for e in events)

        only_aliases = http.get(EVENTS, params={"name": name, "event_type": "alias.set", "user": "bob"}).json()
        assert [e["details"]["to_version"] for e in only_aliases["events"]] == [2]

        pages: list[int] = []
        token = None
        while True:
            params = {"name": name, "max_results": 4, **({"page_token": token} if token else {})}
            body = http.get(EVENTS, params=params).json()
            pages.extend(e["event_id"] for e in body["events"])
            token = body.get("next_page_token")
            if not token:
                break
        assert pages == [e["event_id"] for e in events]

        for bad in ({"event_type": "nope"}, {"max_results": 0}, {"page_token": "abc"}, {"version": "x"}):
            response = http.get(EVENTS, params=bad)
            assert response.status_code == 400, bad
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def _cli(server: LiveServer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--server", server.url])
    return result.exit_code, result.output


def test_model_cli_ls_show_download(mlflow_client, server: LiveServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    files = model_files()
    version = new_version(mlflow_client, files=files)
    name = version.name
    mlflow_client.set_registered_model_alias(name, "champion", 1)

    code, output = _cli(server, "model", "ls", "--filter", f"name = '{name}'")
    assert code == 0 and name in output and "champion" in output
    code, output = _cli(server, "model", "show", name)
    assert code == 0 and "READY" in output
    code, output = _cli(server, "model", "show", f"{name}@champion")
    assert code == 0 and version.tags["runyard.content_digest"] in output.replace("\n", "")

    destination = tmp_path / "download"
    code, output = _cli(server, "model", "download", f"{name}@champion", "--dest", str(destination))
    assert code == 0, output
    downloaded = {p.relative_to(destination).as_posix(): p.read_bytes() for p in destination.rglob("*") if p.is_file()}
    assert downloaded == files
    assert hashlib.sha256(downloaded["model.bin"]).digest() == hashlib.sha256(files["model.bin"]).digest()

    code, output = _cli(server, "model", "download", f"{name}/1", "--dest", str(destination))
    assert code == 1 and "not empty" in output
    code, output = _cli(server, "model", "show", f"{unique('ghost')}/1")
    assert code == 1 and output.startswith("error:") and "not found" in output
    code, output = _cli(server, "model", "events", name, "--json")
    assert code == 0
    assert [e["event_type"] for e in json.loads(output)][-2:] == ["model_version.created", "registered_model.created"]


@pytest.mark.parametrize("reference", ["{name}", "{name}/latest", "{name}/1"])
def test_cli_references(mlflow_client, server: LiveServer, tmp_path: Path, reference: str):  # type: ignore[no-untyped-def]
    version = new_version(mlflow_client)
    code, output = _cli(
        server, "model", "download", reference.format(name=version.name), "-d", str(tmp_path / "x"), "-q"
    )
    assert code == 0, output
    assert (tmp_path / "x" / "MLmodel").is_file()
