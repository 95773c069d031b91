"""Webhooks with the real mlflow client: CRUD, signed deliveries of registry and prompt events, retries,
secrets encrypted at rest, SSRF refusal, and one delivery per event with two replicas on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer, make_server

PRIVATE_OK = {"RUNYARD_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
SECRET = "s3cret-signing-key"


@dataclass
class Receiver:
    """A local HTTP endpoint recording what it receives; it can fail the first requests."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len([r for r in self.received if r["accepted"]]) >= count:
                    return [r for r in self.received if r["accepted"]]
            time.sleep(0.1)
        raise AssertionError(f"expected {count} deliveries, got {self.received}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with state.lock:
                accepted = len(state.received) >= state.fail_first
                state.received.append({"headers": dict(self.headers), "body": body, "accepted": accepted})
            self.send_response(200 if accepted else 503)
            self.end_headers()
            self.wfile.write(b"ok" if accepted else b"try later")

        def log_message(self, *args: object) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture(scope="module")
def hook_server(server_pool: ServerPool) -> LiveServer:
    return server_pool.start_new("sqlite", extra_env=PRIVATE_OK)


def _client(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    return MlflowClient(server.url)


def _verify(delivery: dict[str, Any]) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    signed = f"{headers['x-mlflow-delivery-id']}.{headers['x-mlflow-timestamp']}.{delivery['body']}"
    expected = base64.b64encode(hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).digest()).decode()
    assert headers["x-mlflow-signature"] == f"v1,{expected}"
    payload: dict[str, Any] = json.loads(delivery["body"])
    return payload


def test_crud_and_signed_registry_deliveries(
    hook_server: LiveServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(hook_server, monkeypatch)
    hook = client.create_webhook(
        name="registry-hook",
        url=receiver.url,
        events=["registered_model.created", "model_version.created", "model_version_alias.created"],
        secret=SECRET,
        description="notify CI",
    )
    assert hook.status.value == "ACTIVE" and hook.description == "notify CI"
    assert client.get_webhook(hook.webhook_id).name == "registry-hook"
    assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks()]
    raw = httpx.get(f"{hook_server.url}/api/2.0/mlflow/webhooks/{hook.webhook_id}").json()
    assert "secret" not in json.dumps(raw)

    name = unique("hooked")
    client.create_registered_model(name, tags={"team": "vision"})
    client.create_model_version(name, "s3://elsewhere/model", run_id=None)
    client.set_registered_model_alias(name, "champion", 1)
    client.set_registered_model_tag(name, "not", "subscribed")
    payloads = [_verify(delivery) for delivery in receiver.wait_for(3)]
    by_event = {(p["entity"], p["action"]): p["data"] for p in payloads}
    assert by_event[("registered_model", "created")] == {"name": name, "tags": {"team": "vision"}, "description": None}
    assert by_event[("model_version", "created")]["source"] == "s3://elsewhere/model"
    assert by_event[("model_version", "created")]["version"] == "1"
    assert by_event[("model_version_alias", "created")] == {"name": name, "alias": "champion", "version": "1"}
    time.sleep(1.5)
    assert len(receiver.received) == 3  # the tag change has no subscriber

    updated = client.update_webhook(hook.webhook_id, status="DISABLED", name="paused")
    assert (updated.status.value, updated.name) == ("DISABLED", "paused")
    client.create_registered_model(unique("quiet"))
    time.sleep(1.5)
    assert len(receiver.received) == 3
    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException, match="not found"):
        client.get_webhook(hook.webhook_id)


def test_prompt_events_test_endpoint_and_retries(
    hook_server: LiveServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(hook_server, monkeypatch)
    receiver.fail_first = 2
    hook = client.create_webhook(name="prompts", url=receiver.url, events=["prompt_version.created"], secret=SECRET)
    name = unique("prompt")
    mlflow.genai.register_prompt(name, "Hello {{who}}")
    delivered = receiver.wait_for(1, timeout=30)  # after two 503s and backoff (1 s, 2 s)
    assert len(receiver.received) == 3
    payload = _verify(delivered[0])
    assert (payload["entity"], payload["action"]) == ("prompt_version", "created")
    assert payload["data"]["template"] == "Hello {{who}}" and payload["data"]["version"] == "1"

    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200
    client.delete_webhook(hook.webhook_id)


def test_bad_input_and_ssrf(hook_server: LiveServer, server_pool: ServerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(hook_server, monkeypatch)
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    for body, fragment in (
        ({"url": "http://x.example/h", "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}, "'name'"),
        ({"name": "n", "url": "ftp://x/h", "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}, "http"),
        ({"name": "n", "url": "http://x.example/h", "events": []}, "cannot be empty"),
        ({"name": "n", "url": "http://x.example/h", "events": [{"entity": "MODEL_VERSION", "action": "SET"}]}, "SET"),
    ):
        answer = httpx.post(api, json=body)
        assert answer.status_code == 400, body
        assert fragment.lower() in answer.json()["message"].lower(), (body, answer.json())
    assert httpx.get(f"{api}/nope").status_code == 404

    strict = server_pool.start_new("sqlite")  # private addresses refused (the default)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", strict.url)
    guarded = MlflowClient(strict.url).create_webhook(
        name="inner", url="http://127.0.0.1:5432/", events=["registered_model.created"]
    )
    result = MlflowClient(strict.url).test_webhook(guarded.webhook_id)
    assert not result.success
    assert "not a public address" in (result.error_message or "")
    del client


def test_secret_is_encrypted_at_rest(hook_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(hook_server, monkeypatch)
    hook = client.create_webhook(
        name="sealed", url="http://hooks.example/x", events=["registered_model.created"], secret=SECRET
    )
    engine = sa.create_engine(hook_server.database_url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT secret_encrypted FROM webhooks WHERE webhook_id = :id"), {"id": hook.webhook_id}
        ).scalar_one()
    engine.dispose()
    assert stored and SECRET not in stored
    assert (Path(hook_server.data_dir) / "secrets.key").stat().st_mode & 0o077 == 0


def test_two_replicas_deliver_each_event_once(
    server_pool: ServerPool, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = {"RUNYARD_SECRETS_KEY": "k" * 40} | PRIVATE_OK
    first = server_pool.start_new("postgresql", extra_env=key)
    second = make_server(
        backend="postgresql", database_url=first.database_url, data_dir=tmp_path, artifacts=first.artifacts,
        extra_env=key,
    )  # fmt: skip
    second.start()
    try:
        client = _client(first, monkeypatch)
        client.create_webhook(name="once", url=receiver.url, events=["registered_model.created"], secret=SECRET)
        names = [unique("replica") for _ in range(30)]
        for index, name in enumerate(names):
            MlflowClient((first if index % 2 else second).url).create_registered_model(name)
        delivered = receiver.wait_for(30, timeout=60)
        time.sleep(2)
        seen = sorted(_verify(d)["data"]["name"] for d in receiver.received)
        assert seen == sorted(names), f"{len(delivered)} deliveries"
    finally:
        second.stop()
