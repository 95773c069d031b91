"""The trace calls of MLflow's web UI and client beside the core trace API, with the real ``mlflow`` client.

``get-trace-artifact`` (the UI's trace view: spans as ``traces.json``, and attachments) and
``traces/link-prompts``, on every backend.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities.trace_data import TraceData
from mlflow.tracing.attachments import Attachment

from tests.compat.test_auth import ADMIN, ADMIN_PASSWORD, AUTH_ENV
from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def tracing(mlflow_client: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.tracing.reset()
    yield mlflow_client
    mlflow.tracing.reset()


@pytest.fixture
def experiment_id(tracing: MlflowClient) -> str:
    experiment_id = str(tracing.create_experiment(unique("traces-extra")))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _trace(image: Attachment | None = None) -> str:
    @mlflow.trace(name="answer")
    def answer(question: str) -> str:
        with mlflow.start_span(name="look", span_type="RETRIEVER") as span:
            span.set_inputs({"query": question, **({"image": image} if image else {})})
            span.set_outputs(["doc-1"])
        return f"answer to {question}"

    answer("what is runyard?")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_the_ui_reads_a_traces_spans_as_its_trace_artifact(
    server: LiveServer, tracing: MlflowClient, experiment_id: str, version: str
) -> None:
    trace_id = _trace()
    url = f"{server.url}/ajax-api/{version}/mlflow/get-trace-artifact"
    answer = httpx.get(url, params={"request_id": trace_id}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == 'attachment; filename="traces.json"'
    data = TraceData.from_dict(json.loads(answer.content))  # MLflow's own reader of the artifact
    spans = {span.name: span for span in data.spans}
    assert set(spans) == {"answer", "look"}
    assert spans["look"].parent_id == spans["answer"].span_id
    assert spans["look"].span_type == "RETRIEVER"
    assert spans["look"].inputs == {"query": "what is runyard?"}
    assert spans["answer"].outputs == "answer to what is runyard?"
    assert spans["answer"].status.status_code.value == "OK"
    assert {span.span_id for span in data.spans} == {span.span_id for span in tracing.get_trace(trace_id).data.spans}

    missing = httpx.get(url, timeout=60)
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        'Request must include the "request_id" query parameter.',
    )
    unknown = httpx.get(url, params={"request_id": "tr-" + "0" * 32}, timeout=60)
    assert unknown.status_code == 404


def test_a_span_attachment_downloads_by_its_id(server: LiveServer, tracing: MlflowClient, experiment_id: str) -> None:
    image = Attachment(content_type="image/png", content_bytes=PNG)
    trace_id = _trace(image)
    url = f"{server.url}/ajax-api/3.0/mlflow/get-trace-artifact"
    answer = httpx.get(url, params={"request_id": trace_id, "path": image.id}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.content == PNG
    bad = httpx.get(url, params={"request_id": trace_id, "path": "../../secrets"}, timeout=60)
    assert bad.status_code == 400 and "must be a valid UUID" in bad.json()["message"]
    absent = httpx.get(url, params={"request_id": trace_id, "path": str(uuid.uuid4())}, timeout=60)
    assert absent.status_code == 404


def test_prompt_versions_link_to_a_trace(server: LiveServer, tracing: MlflowClient, experiment_id: str) -> None:
    trace_id = _trace()
    prompt = mlflow.genai.register_prompt(name=unique("greeting"), template="Hello {{name}}")
    tracing.link_prompt_versions_to_trace([prompt], trace_id)
    linked = json.loads(tracing.get_trace(trace_id).info.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": prompt.name, "version": "1"}]

    # The endpoint on its own (what the client calls before setting the tag itself) records the link too.
    other = _trace()
    link = f"{server.url}/api/2.0/mlflow/traces/link-prompts"
    body = {"trace_id": other, "prompt_versions": [{"name": prompt.name, "version": "1"}] * 2}
    assert httpx.post(link, json=body, timeout=60).status_code == 200
    assert httpx.post(link, json=body, timeout=60).status_code == 200  # idempotent
    linked = json.loads(tracing.get_trace(other).info.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": prompt.name, "version": "1"}]

    unknown = httpx.post(link, json={**body, "trace_id": "tr-" + "0" * 32}, timeout=60)
    assert unknown.status_code == 404
    empty = httpx.post(link, json={"trace_id": other}, timeout=60)
    assert (empty.status_code, empty.json()["message"]) == (
        400,
        "Missing value for required parameter 'prompt_versions'.",
    )
    bad_version = httpx.post(
        link, json={"trace_id": other, "prompt_versions": [{"name": prompt.name, "version": "one"}]}, timeout=60
    )
    assert bad_version.status_code == 400


@pytest.mark.parametrize("prefix", ["api", "ajax-api"])
def test_unified_trace_search_pages_and_keeps_a_logged_models_traces(
    server: LiveServer, tracing: MlflowClient, experiment_id: str, prefix: str
) -> None:
    plain = [_trace() for _ in range(2)]
    model = tracing.create_logged_model(experiment_id, name="agent")
    mlflow.set_active_model(model_id=model.model_id)
    try:
        produced = _trace()
    finally:
        mlflow.clear_active_model()
    url = f"{server.url}/{prefix}/2.0/mlflow/unified-traces"
    with httpx.Client(timeout=60) as http:
        every = http.get(url, params={"experiment_ids": experiment_id})
        assert every.status_code == 200
        assert sorted(t["request_id"] for t in every.json()["traces"]) == sorted([*plain, produced])
        assert {t["experiment_id"] for t in every.json()["traces"]} == {experiment_id}

        paged = {"experiment_ids": experiment_id, "max_results": "2", "order_by": "timestamp_ms ASC"}
        first = http.get(url, params=paged)
        assert [t["request_id"] for t in first.json()["traces"]] == plain
        rest = http.get(url, params={**paged, "page_token": first.json()["next_page_token"]})
        assert [t["request_id"] for t in rest.json()["traces"]] == [produced]
        assert "next_page_token" not in rest.json()

        by_model = http.get(url, params={"model_id": model.model_id})
        assert [t["request_id"] for t in by_model.json()["traces"]] == [produced]
        filtered = http.get(url, params={"model_id": model.model_id, "filter": "trace.status = 'ERROR'"})
        assert filtered.json()["traces"] == []

        missing = http.get(url)
        assert missing.status_code == 400 and "experiment_ids" in missing.json()["message"]
        other = tracing.create_experiment(unique("other"))
        mixed = http.get(url, params={"model_id": model.model_id, "experiment_ids": other})
        assert mixed.status_code == 400 and f"belongs to experiment {experiment_id}" in mixed.json()["message"]
        unknown = http.get(url, params={"model_id": "m-none"})
        assert unknown.status_code == 404


def test_trace_counts_and_latency_through_the_clients_metric_query(
    server: LiveServer, tracing: MlflowClient, experiment_id: str
) -> None:
    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
    from mlflow.tracking._tracking_service.utils import _get_store

    ok = [_trace() for _ in range(3)]

    @mlflow.trace(name="failing")
    def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        failing()
    store = _get_store()  # the client's RestStore: MLflow's own request and response handling

    counts = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="trace_count",
        aggregations=[MetricAggregation(AggregationType.COUNT)],
        dimensions=["trace_name", "trace_status"],
    )
    assert sorted((p.dimensions["trace_name"], p.dimensions["trace_status"], p.values["COUNT"]) for p in counts) == [
        ("answer", "OK", 3.0),
        ("failing", "ERROR", 1.0),
    ]
    only_ok = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="trace_count",
        aggregations=[MetricAggregation(AggregationType.COUNT)],
        filters=["trace.status = 'OK'"],
    )
    assert [p.values for p in only_ok] == [{"COUNT": 3.0}]

    infos = [tracing.get_trace(trace_id).info for trace_id in ok]
    durations = sorted(float(info.execution_duration) for info in infos)
    start = min(info.request_time for info in infos) - 60_000
    latency = store.query_trace_metrics(
        experiment_ids=[experiment_id],
        view_type=MetricViewType.TRACES,
        metric_name="latency",
        aggregations=[
            MetricAggregation(AggregationType.MAX),
            MetricAggregation(AggregationType.PERCENTILE, percentile_value=50),
        ],
        dimensions=["trace_name"],
        time_interval_seconds=3600,
        start_time_ms=start,
        end_time_ms=start + 7_200_000,
    )
    answer = [p for p in latency if p.dimensions["trace_name"] == "answer"]
    assert sum(1 for _ in answer) >= 1 and "time_bucket" in answer[0].dimensions
    assert max(p.values["MAX"] for p in answer) == durations[-1]
    if len(answer) == 1:
        assert answer[0].values["P50.0"] == pytest.approx(durations[1])

    url = f"{server.url}/api/3.0/mlflow/traces/metrics"
    base = {"experiment_ids": [experiment_id], "view_type": "TRACES", "aggregations": [{"aggregation_type": "COUNT"}]}
    refused = httpx.post(url, json={**base, "metric_name": "input_tokens"}, timeout=60)
    assert refused.status_code == 400 and "metric_name must be one of" in refused.json()["message"]
    span_latency = httpx.post(url, json={**base, "metric_name": "latency", "view_type": "SPANS"}, timeout=60)
    assert span_latency.status_code == 400 and "['span_count'] for SPANS" in span_latency.json()["message"]
    values = httpx.post(url, json={**base, "metric_name": "assessment_value", "view_type": 3}, timeout=60)
    assert values.status_code == 400 and "['assessment_count'] for ASSESSMENTS" in values.json()["message"]
    unknown_view = httpx.post(url, json={**base, "metric_name": "trace_count", "view_type": "SESSIONS"}, timeout=60)
    assert unknown_view.status_code == 400 and "view_type" in unknown_view.json()["message"]
    no_range = httpx.post(url, json={**base, "metric_name": "trace_count", "time_interval_seconds": 60}, timeout=60)
    assert no_range.status_code == 400 and "start_time_ms and end_time_ms are required" in no_range.json()["message"]


def test_span_counts_through_the_clients_metric_query(
    server: LiveServer, tracing: MlflowClient, experiment_id: str
) -> None:
    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
    from mlflow.tracking._tracking_service.utils import _get_store

    traces = [_trace() for _ in range(2)]
    store = _get_store()
    count = [MetricAggregation(AggregationType.COUNT)]
    by_name = store.query_trace_metrics(
        experiment_ids=[experiment_id], view_type=MetricViewType.SPANS, metric_name="span_count",
        aggregations=count, dimensions=["span_name", "span_type", "span_status"],
    )  # fmt: skip
    assert sorted(
        (p.dimensions["span_name"], p.dimensions["span_type"], p.dimensions["span_status"], p.values["COUNT"])
        for p in by_name
    ) == [("answer", "UNKNOWN", "OK", 2.0), ("look", "RETRIEVER", "OK", 2.0)]
    one_trace = store.query_trace_metrics(
        experiment_ids=[experiment_id], view_type=MetricViewType.SPANS, metric_name="span_count",
        aggregations=count, filters=[f"trace.request_id = '{traces[0]}'"],
    )  # fmt: skip
    assert [p.values for p in one_trace] == [{"COUNT": 2.0}]
    start = min(tracing.get_trace(t).info.request_time for t in traces) - 60_000
    bucketed = store.query_trace_metrics(
        experiment_ids=[experiment_id], view_type=MetricViewType.SPANS, metric_name="span_count",
        aggregations=count, time_interval_seconds=3600, start_time_ms=start, end_time_ms=start + 7_200_000,
    )  # fmt: skip
    assert sum(p.values["COUNT"] for p in bucketed) == 4.0 and all("time_bucket" in p.dimensions for p in bucketed)
    empty = store.query_trace_metrics(
        experiment_ids=[experiment_id], view_type=MetricViewType.SPANS, metric_name="span_count",
        aggregations=count, start_time_ms=0, end_time_ms=1,
    )  # fmt: skip
    assert [p.values for p in empty] == [{"COUNT": 0.0}]  # no spans in range: a count of none, as for traces


def test_assessment_counts_through_the_clients_metric_query(
    server: LiveServer, tracing: MlflowClient, experiment_id: str
) -> None:
    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
    from mlflow.tracking._tracking_service.utils import _get_store

    traces = [_trace() for _ in range(3)]
    for trace_id, verdict in zip(traces, ["yes", "yes", "no"], strict=True):
        mlflow.log_feedback(trace_id=trace_id, name="correct", value=verdict)
    first = mlflow.log_feedback(trace_id=traces[0], name="relevance", value=0.5)
    mlflow.override_feedback(trace_id=traces[0], assessment_id=first.assessment_id, value=0.9)
    counts = _get_store().query_trace_metrics(
        experiment_ids=[experiment_id], view_type=MetricViewType.ASSESSMENTS, metric_name="assessment_count",
        aggregations=[MetricAggregation(AggregationType.COUNT)], dimensions=["assessment_name", "assessment_value"],
    )  # fmt: skip
    found = sorted(
        (p.dimensions["assessment_name"], p.dimensions["assessment_value"], p.values["COUNT"]) for p in counts
    )
    assert found == [("correct", '"no"', 1.0), ("correct", '"yes"', 2.0), ("relevance", "0.9", 1.0)]


def test_a_caller_without_read_cannot_download_a_traces_artifact(
    server_pool: ServerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server import get_app_client

    server = server_pool.start_new("sqlite", extra_env=AUTH_ENV)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.tracing.reset()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(unique("secret-traces"))
    try:
        mlflow.set_experiment(experiment_id=experiment_id)
        trace_id = _trace()
    finally:
        mlflow.tracing.reset()
        mlflow.set_tracking_uri(previous)
    member = unique("member")
    auth = get_app_client("basic-auth", tracking_uri=server.url)
    auth.create_user(member, "member password long")
    url = f"{server.url}/ajax-api/2.0/mlflow/get-trace-artifact"
    as_member = (member, "member password long")
    refused = httpx.get(url, params={"request_id": trace_id}, auth=as_member, timeout=60)
    assert refused.status_code == 403
    unified = f"{server.url}/api/2.0/mlflow/unified-traces"
    assert httpx.get(unified, params={"experiment_ids": experiment_id}, auth=as_member, timeout=60).status_code == 403
    link = f"{server.url}/api/2.0/mlflow/traces/link-prompts"
    body = {"trace_id": trace_id, "prompt_versions": [{"name": "p", "version": "1"}]}
    assert httpx.post(link, json=body, auth=as_member, timeout=60).status_code == 403
    auth.grant_user_permission(member, "experiment", experiment_id, "READ")
    allowed = httpx.get(url, params={"request_id": trace_id}, auth=as_member, timeout=60)
    assert allowed.status_code == 200 and json.loads(allowed.content)["spans"]
    found = httpx.get(unified, params={"experiment_ids": experiment_id}, auth=as_member, timeout=60)
    assert [t["request_id"] for t in found.json()["traces"]] == [trace_id]
    assert httpx.post(link, json=body, auth=as_member, timeout=60).status_code == 403  # READ does not edit
