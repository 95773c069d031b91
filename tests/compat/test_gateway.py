"""The AI gateway against a live server: configuration with the real mlflow client's gateway store, and
requests proxied to a local fake provider (a real HTTP server started here) with the stored key.

The fake provider answers in OpenAI's shapes and records what reached it, so the tests see the key
arrive as a bearer token while no API answer, log line or database row ever shows it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from mlflow.entities.gateway_endpoint import (
    GatewayEndpointModelConfig,
    GatewayEndpointTag,
    GatewayModelLinkageType,
    GatewayResourceType,
)
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.rest_store import RestStore
from mlflow.tracking import MlflowClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runyard.stores.metadata.engine import normalise_database_url
from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer
from tests.support.services import BACKENDS, free_port

KEY = "sk-test-0123456789abcdefWXYZ"
ROTATED = "sk-rotated-9876543210zyxwABCD"
GATEWAY_ENV = {"RUNYARD_GATEWAY_ALLOW_PRIVATE_URLS": "true", "RUNYARD_GATEWAY_KEK": "g" * 40}
PRIMARY = GatewayModelLinkageType.PRIMARY
FALLBACK = GatewayModelLinkageType.FALLBACK


@dataclass
class FakeProvider:
    """An OpenAI-compatible provider on a free local port; ``/down`` answers 503 to everything."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    state = FakeProvider()

    async def chat(request: Request) -> Response:
        body = await request.json()
        state.received.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        if body.get("stream"):

            async def events() -> Any:
                for word in ("Hel", "lo"):
                    chunk = {"object": "chat.completion.chunk", "choices": [{"delta": {"content": word}}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        state.received.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        data = [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 2}})

    async def down(request: Request) -> Response:
        state.received.append(
            {"path": request.url.path, "headers": dict(request.headers), "body": await request.json()}
        )
        return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/down/v1/chat/completions", down, methods=["POST"]),
        ]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(5)


_servers: dict[str, LiveServer] = {}


@pytest.fixture(params=BACKENDS)
def gateway_server(request: pytest.FixtureRequest, server_pool: ServerPool) -> LiveServer:
    backend = str(request.param)
    if backend not in _servers:
        _servers[backend] = server_pool.start_new(backend, extra_env=GATEWAY_ENV)
    return _servers[backend]


def _store(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> RestStore:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    store = MlflowClient(server.url)._tracking_client.store
    assert isinstance(store, RestStore)
    return store


def _config(model_definition_id: str, linkage: GatewayModelLinkageType = PRIMARY, **extra: Any) -> Any:
    return GatewayEndpointModelConfig(model_definition_id=model_definition_id, linkage_type=linkage, **extra)


def test_configure_and_proxy_with_the_mlflow_client(
    gateway_server: LiveServer, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(gateway_server, monkeypatch)
    answers: list[str] = []  # every API answer: none may contain a key

    secret = store.create_gateway_secret(
        secret_name=unique("openai-key"), secret_value={"api_key": KEY}, provider="openai",
        auth_config={"api_base": f"{provider.url}/v1"},
    )  # fmt: skip
    assert secret.masked_values == {"api_key": "sk-...WXYZ"}
    assert store.get_secret_info(secret_id=secret.secret_id).auth_config == {"api_base": f"{provider.url}/v1"}
    assert secret.secret_id in [s.secret_id for s in store.list_secret_infos(provider="openai")]
    model = store.create_gateway_model_definition(
        name=unique("gpt"), secret_id=secret.secret_id, provider="openai", model_name="gpt-4o-mini"
    )
    assert (model.secret_name, model.model_name) == (secret.secret_name, "gpt-4o-mini")
    name = unique("chat")
    endpoint = store.create_gateway_endpoint(name=name, model_configs=[_config(model.model_definition_id)])
    assert [m.model_definition.model_name for m in endpoint.model_mappings] == ["gpt-4o-mini"]
    assert store.get_gateway_endpoint(name=name).endpoint_id == endpoint.endpoint_id
    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("team", "search"))
    assert {t.key: t.value for t in store.get_gateway_endpoint(endpoint.endpoint_id).tags} == {"team": "search"}
    assert endpoint.endpoint_id in [e.endpoint_id for e in store.list_gateway_endpoints(provider="openai")]
    binding = store.create_endpoint_binding(endpoint.endpoint_id, GatewayResourceType.SCORER, "relevance")
    assert [b.resource_id for b in store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)] == ["relevance"]

    base = gateway_server.url
    chat = {"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.1}
    answer = httpx.post(f"{base}/gateway/{name}/mlflow/invocations", json=chat)
    answers.append(answer.text)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Hello"
    reached = provider.calls("/v1/chat/completions")[-1]
    assert reached["headers"]["authorization"] == f"Bearer {KEY}"
    assert reached["body"] == {**chat, "model": "gpt-4o-mini"}

    answer = httpx.post(f"{base}/gateway/mlflow/v1/chat/completions", json={**chat, "model": name})
    answers.append(answer.text)
    assert answer.json()["model"] == "gpt-4o-mini"
    streamed = httpx.post(f"{base}/gateway/openai/v1/chat/completions", json={**chat, "model": name, "stream": True})
    answers.append(streamed.text)
    assert streamed.headers["content-type"].startswith("text/event-stream") and "[DONE]" in streamed.text
    embedded = httpx.post(f"{base}/gateway/openai/v1/embeddings", json={"model": name, "input": "hi"})
    answers.append(embedded.text)
    assert embedded.json()["data"][0]["embedding"] == [0.1, 0.2]
    listed = httpx.get(f"{base}/gateway/mlflow/v1/models").json()
    assert name in [m["id"] for m in listed["data"]]

    store.update_gateway_secret(secret.secret_id, secret_value={"api_key": ROTATED})
    httpx.post(f"{base}/gateway/{name}/mlflow/invocations", json=chat)
    assert provider.calls("/v1/chat/completions")[-1]["headers"]["authorization"] == f"Bearer {ROTATED}"
    assert store.get_secret_info(secret_id=secret.secret_id).masked_values == {"api_key": "sk-...ABCD"}

    for path in ("secrets/list", "model-definitions/list", "endpoints/list", "endpoints/bindings/list"):
        answers.append(httpx.get(f"{base}/api/3.0/mlflow/gateway/{path}").text)
    answers.append(httpx.get(f"{base}/api/3.0/mlflow/gateway/secrets/get", params={"secret_id": secret.secret_id}).text)
    assert not [text for text in answers if KEY in text or ROTATED in text]
    engine = sa.create_engine(normalise_database_url(gateway_server.database_url))
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT value_encrypted, masked_values FROM gw_secrets")).all()
    engine.dispose()
    assert stored and not [row for row in stored if KEY in str(row) or ROTATED in str(row)]
    assert KEY not in gateway_server.log_path.read_text() and ROTATED not in gateway_server.log_path.read_text()

    with pytest.raises(MlflowException, match="in use by endpoints"):
        store.delete_gateway_model_definition(model.model_definition_id)
    store.delete_endpoint_binding(binding.endpoint_id, "scorer", "relevance")
    store.detach_model_from_endpoint(endpoint.endpoint_id, model.model_definition_id)
    store.attach_model_to_endpoint(endpoint.endpoint_id, _config(model.model_definition_id))
    store.delete_gateway_endpoint(endpoint.endpoint_id)
    store.delete_gateway_model_definition(model.model_definition_id)
    store.delete_gateway_secret(secret.secret_id)
    with pytest.raises(MlflowException, match="GatewaySecret not found") as raised:
        store.get_secret_info(secret_id=secret.secret_id)
    assert raised.value.get_http_status_code() == 404


def test_fallback_errors_and_bad_input(
    server_pool: ServerPool, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "sqlite" not in _servers:
        _servers["sqlite"] = server_pool.start_new("sqlite", extra_env=GATEWAY_ENV)
    server = _servers["sqlite"]
    store = _store(server, monkeypatch)
    down = store.create_gateway_secret(
        secret_name=unique("down"), secret_value={"api_key": KEY}, auth_config={"api_base": f"{provider.url}/down/v1"}
    )
    up = store.create_gateway_secret(
        secret_name=unique("up"), secret_value={"api_key": KEY}, auth_config={"api_base": f"{provider.url}/v1"}
    )
    first = store.create_gateway_model_definition(unique("a"), down.secret_id, "openai", "primary-model")
    second = store.create_gateway_model_definition(unique("b"), up.secret_id, "openai", "fallback-model")
    name = unique("resilient")
    store.create_gateway_endpoint(
        name=name,
        model_configs=[
            _config(first.model_definition_id),
            _config(second.model_definition_id, FALLBACK, fallback_order=1),
        ],
    )
    answer = httpx.post(
        f"{server.url}/gateway/{name}/mlflow/invocations", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert answer.status_code == 200 and answer.json()["model"] == "fallback-model"
    assert provider.calls("/down/v1/chat/completions")[-1]["body"]["model"] == "primary-model"

    missing = httpx.post(f"{server.url}/gateway/nope/mlflow/invocations", json={"messages": []})
    assert missing.status_code == 404
    assert missing.json()["detail"]["message"] == "GatewayEndpoint not found (name='nope')"
    assert httpx.post(f"{server.url}/gateway/{name}/mlflow/invocations", json={"x": 1}).status_code == 400
    no_model = httpx.post(f"{server.url}/gateway/mlflow/v1/chat/completions", json={"messages": []})
    assert no_model.json() == {"detail": "Missing required 'model' parameter in request body"}

    api = f"{server.url}/api/3.0/mlflow/gateway"
    for path, body, fragment in (
        ("secrets/create", {"secret_value": {"api_key": "k"}}, "Missing value for required parameter 'secret_name'."),
        ("secrets/create", {"secret_name": "s"}, "Missing value for required parameter 'secret_value'."),
        (
            "secrets/create",
            {"secret_name": "s", "secret_value": {"base_url": "http://x"}},
            "must not contain 'base_url'",
        ),
        ("endpoints/create", {"name": "bad name!", "model_configs": []}, "Invalid endpoint name 'bad name!'"),
        ("endpoints/create", {"name": "ok", "model_configs": [{"model_definition_id": "d"}]}, "'linkage_type'"),
        ("endpoints/create", {"name": "ok", "model_configs": []}, "at least one model configuration"),
        ("endpoints/bindings/create", {"endpoint_id": "e", "resource_type": "job", "resource_id": "1"}, "'job'"),
    ):
        answer = httpx.post(f"{api}/{path}", json=body)
        assert answer.status_code == 400 and fragment in answer.json()["message"], (path, body, answer.text)
        assert KEY not in answer.text
    providers = httpx.get(f"{server.url}/ajax-api/3.0/mlflow/gateway/supported-providers").json()["providers"]
    assert "openai" in providers
    config = httpx.get(f"{server.url}/ajax-api/3.0/mlflow/gateway/provider-config", params={"provider": "openai"})
    assert [f["name"] for f in config.json()["auth_modes"][0]["secret_fields"]] == ["api_key"]
    assert httpx.get(f"{server.url}/ajax-api/3.0/mlflow/gateway/secrets/config").json() == {
        "secrets_available": True, "using_default_passphrase": False,
    }  # fmt: skip

    strict = server_pool.get("sqlite")  # private provider URLs refused (the default)
    refused = httpx.post(
        f"{strict.url}/api/3.0/mlflow/gateway/secrets/create",
        json={
            "secret_name": unique("inner"),
            "secret_value": {"api_key": KEY},
            "auth_config": {"api_base": provider.url},
        },
    )
    assert refused.status_code == 400 and "gateway_allow_private_urls" in refused.json()["message"]
    assert KEY not in refused.text


def test_only_admins_configure_and_use_needs_a_grant(
    server_pool: ServerPool, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server import get_app_client

    from tests.compat.test_auth import ADMIN, ADMIN_PASSWORD, AUTH_ENV

    server = server_pool.start_new("sqlite", extra_env=AUTH_ENV | GATEWAY_ENV)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    store = _store(server, monkeypatch)
    secret = store.create_gateway_secret(
        secret_name="team-key", secret_value={"api_key": KEY}, auth_config={"api_base": f"{provider.url}/v1"}
    )
    model = store.create_gateway_model_definition("m", secret.secret_id, "openai", "gpt-4o-mini")
    granted = store.create_gateway_endpoint(name="granted", model_configs=[_config(model.model_definition_id)])
    store.create_gateway_endpoint(name="other", model_configs=[_config(model.model_definition_id)])
    auth = get_app_client("basic-auth", tracking_uri=server.url)
    auth.create_user("member", "member password long")
    member = ("member", "member password long")

    api = f"{server.url}/api/3.0/mlflow/gateway"
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    assert httpx.post(f"{server.url}/gateway/granted/mlflow/invocations", json=chat).status_code == 401
    body = {"secret_name": "mine", "secret_value": {"api_key": "sk-attacker-000000"}}
    assert httpx.post(f"{api}/secrets/create", json=body, auth=member).status_code == 403
    assert httpx.get(f"{api}/secrets/list", auth=member).status_code == 403
    assert httpx.get(f"{api}/model-definitions/list", auth=member).status_code == 403
    assert httpx.get(f"{api}/endpoints/list", auth=member).status_code == 403  # no role in the workspace
    refused = httpx.post(f"{server.url}/gateway/granted/mlflow/invocations", json=chat, auth=member)
    assert refused.status_code == 403 and KEY not in refused.text

    auth.grant_user_permission("member", "gateway_endpoint", granted.endpoint_id, "USE")
    answer = httpx.post(f"{server.url}/gateway/granted/mlflow/invocations", json=chat, auth=member)
    assert answer.status_code == 200, answer.text
    assert provider.calls("/v1/chat/completions")[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert httpx.post(f"{server.url}/gateway/other/mlflow/invocations", json=chat, auth=member).status_code == 403
    listed = httpx.get(f"{server.url}/gateway/mlflow/v1/models", auth=member).json()
    assert [m["id"] for m in listed["data"]] == ["granted"]
    endpoints = httpx.get(f"{api}/endpoints/list", auth=member).json()["endpoints"]
    assert [e["name"] for e in endpoints] == ["granted"]
    assert httpx.get(f"{api}/endpoints/get", params={"name": "granted"}, auth=member).status_code == 200
    assert httpx.get(f"{api}/endpoints/get", params={"name": "other"}, auth=member).status_code == 403
    update = {"endpoint_id": granted.endpoint_id, "name": "hijacked"}
    assert httpx.post(f"{api}/endpoints/update", json=update, auth=member).status_code == 403
