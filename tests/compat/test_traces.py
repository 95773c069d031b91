"""Traces through the real ``mlflow`` 3.17.2 client (tracing, search, tags, runs), on every backend."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.conftest import unique
from tests.support.servers import LiveServer


@pytest.fixture
def tracing(mlflow_client: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """The client with synchronous trace export, so a finished trace is on the server when the call returns."""
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.tracing.reset()
    yield mlflow_client
    mlflow.tracing.reset()


@pytest.fixture
def experiment_id(tracing: MlflowClient) -> str:
    experiment_id = str(tracing.create_experiment(unique("traces")))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _traced_call(question: str, *, fail: bool = False, tags: dict[str, str] | None = None) -> str:
    @mlflow.trace(name="answer")
    def answer(q: str) -> str:
        if tags:
            mlflow.update_current_trace(tags=tags)
        with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"query": q})
            span.set_outputs(["doc-1", "doc-2"])
        if fail:
            raise ValueError("no answer")
        return f"answer to {q}"

    try:
        answer(question)
    except ValueError:
        pass
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_version_reports_the_mlflow_api_level(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/version").text == "3.17.2"
    own = httpx.get(f"{server.url}/api/v1/version").json()
    assert own["mlflow_api_version"] == "3.17.2"
    assert own["version"] != "3.17.2"


def test_traced_function_keeps_its_spans_in_the_tracking_store(tracing: MlflowClient, experiment_id: str) -> None:
    trace_id = _traced_call("what is runyard?")
    trace = tracing.get_trace(trace_id)
    assert trace.info.experiment_id == experiment_id
    assert trace.info.state.value == "OK"
    # Spans went over OTLP, so the client reads them back from the server, not from artifacts.
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert trace.info.tags["mlflow.traceName"] == "answer"
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"answer", "retrieve"}
    assert spans["retrieve"].parent_id == spans["answer"].span_id
    assert spans["retrieve"].span_type == "RETRIEVER"
    assert spans["retrieve"].inputs == {"query": "what is runyard?"}
    assert spans["answer"].outputs == "answer to what is runyard?"
    assert trace.info.request_preview and "what is runyard?" in trace.info.request_preview
    assert trace.info.execution_duration is not None


def test_failed_call_is_an_error_trace(tracing: MlflowClient, experiment_id: str) -> None:
    trace_id = _traced_call("boom", fail=True)
    trace = tracing.get_trace(trace_id)
    assert trace.info.state.value == "ERROR"
    assert {span.name for span in trace.data.spans} == {"answer", "retrieve"}


def test_search_traces_filters_and_orders(tracing: MlflowClient, experiment_id: str) -> None:
    ok_prod = _traced_call("q1", tags={"env": "prod"})
    time.sleep(0.01)
    failed = _traced_call("q2", fail=True, tags={"env": "dev"})
    time.sleep(0.01)
    ok_dev = _traced_call("q3", tags={"env": "dev"})

    def ids(filter_string: str | None = None, order_by: list[str] | None = None) -> list[str]:
        found = mlflow.search_traces(
            locations=[experiment_id], filter_string=filter_string, order_by=order_by, return_type="list"
        )
        return [t.info.trace_id for t in found]

    assert ids() == [ok_dev, failed, ok_prod]  # newest first by default
    assert ids(order_by=["timestamp_ms ASC"]) == [ok_prod, failed, ok_dev]
    assert ids("tags.env = 'dev'") == [ok_dev, failed]
    assert ids("attributes.status = 'ERROR'") == [failed]
    assert ids("trace.status = 'OK' AND tags.env = 'dev'") == [ok_dev]
    assert ids("tags.env = 'prod' OR attributes.status = 'ERROR'") == [failed, ok_prod]
    assert ids("trace.name = 'answer'") == [ok_dev, failed, ok_prod]
    assert ids("span.name = 'retrieve' AND span.type = 'RETRIEVER'") == [ok_dev, failed, ok_prod]
    assert ids("span.name = 'missing'") == []
    assert ids("trace.text LIKE '%q3%'") == [ok_dev]
    assert ids(f"trace.timestamp_ms > {tracing.get_trace(failed).info.request_time}") == [ok_dev]
    assert ids("tags.env IS NULL") == []

    first = tracing.search_traces(locations=[experiment_id], max_results=2, include_spans=False)
    assert [t.info.trace_id for t in first] == [ok_dev, failed]
    assert first.token
    rest = tracing.search_traces(locations=[experiment_id], max_results=2, page_token=first.token)
    assert [t.info.trace_id for t in rest] == [ok_prod]
    # Spans are loaded for searched traces too.
    assert {span.name for span in rest[0].data.spans} == {"answer", "retrieve"}


def test_bad_filter_is_a_400_with_a_precise_message(tracing: MlflowClient, experiment_id: str) -> None:
    with pytest.raises(MlflowException, match="Invalid entity type 'params'") as error:
        mlflow.search_traces(locations=[experiment_id], filter_string="params.x = 'y'")
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="Invalid comparator") as error:
        mlflow.search_traces(locations=[experiment_id], filter_string="trace.timestamp_ms LIKE '1'")
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"


def test_trace_tags_and_deletion_through_the_client(tracing: MlflowClient, experiment_id: str) -> None:
    keep = _traced_call("keep")
    drop = _traced_call("drop")
    tracing.set_trace_tag(keep, "reviewed", "yes")
    assert tracing.get_trace(keep).info.tags["reviewed"] == "yes"
    tracing.delete_trace_tag(keep, "reviewed")
    assert "reviewed" not in tracing.get_trace(keep).info.tags
    with pytest.raises(MlflowException, match="No trace tag with key 'reviewed'"):
        tracing.delete_trace_tag(keep, "reviewed")

    assert tracing.delete_traces(experiment_id, trace_ids=[drop]) == 1
    with pytest.raises(MlflowException, match=f"Trace with ID '{drop}' not found") as error:
        tracing.get_trace(drop)
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [t.info.trace_id for t in tracing.search_traces(locations=[experiment_id])] == [keep]

    assert tracing.delete_traces(experiment_id, max_timestamp_millis=int(time.time() * 1000) + 1000) == 1
    assert list(tracing.search_traces(locations=[experiment_id])) == []


def test_traces_made_in_a_run_are_found_by_run(tracing: MlflowClient, experiment_id: str) -> None:
    with mlflow.start_run(experiment_id=experiment_id) as run:
        inside = _traced_call("inside the run")
    outside = _traced_call("outside")
    other = _traced_call("linked later")
    found = tracing.search_traces(locations=[experiment_id], run_id=run.info.run_id)
    assert [t.info.trace_id for t in found] == [inside]

    tracing.link_traces_to_run([other], run_id=run.info.run_id)
    found = tracing.search_traces(locations=[experiment_id], run_id=run.info.run_id)
    assert [t.info.trace_id for t in found] == [other, inside]
    assert outside not in [t.info.trace_id for t in found]

    with pytest.raises(MlflowException, match="not found") as error:
        tracing.link_traces_to_run([other], run_id="0" * 32)
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_batch_get_traces_skips_unknown_ids(tracing: MlflowClient, experiment_id: str) -> None:
    first = _traced_call("a")
    second = _traced_call("b")
    traces = tracing._tracing_client.batch_get_traces([first, "tr-" + "0" * 32, second])
    assert sorted(t.info.trace_id for t in traces) == sorted([first, second])
    assert all(len(t.data.spans) == 2 for t in traces)


def test_feedback_and_expectations(tracing: MlflowClient, experiment_id: str) -> None:
    from mlflow.entities import AssessmentSource

    good = _traced_call("good one")
    bad = _traced_call("bad one")
    human = AssessmentSource(source_type="HUMAN", source_id="reviewer@example.com")
    feedback = mlflow.log_feedback(trace_id=good, name="quality", value="good", source=human, rationale="clear")
    mlflow.log_feedback(trace_id=bad, name="quality", value="poor", source=human)
    mlflow.log_feedback(trace_id=good, name="score", value=0.9, source=human)
    expectation = mlflow.log_expectation(trace_id=good, name="expected", value={"answer": ["a", "b"]}, source=human)

    fetched = mlflow.get_assessment(good, feedback.assessment_id)
    assert fetched.value == "good"
    assert fetched.rationale == "clear"
    assert fetched.source.source_id == "reviewer@example.com"
    assert mlflow.get_assessment(good, expectation.assessment_id).value == {"answer": ["a", "b"]}
    info = tracing.get_trace(good).info
    assert {a.name for a in info.assessments} == {"quality", "score", "expected"}

    def ids(filter_string: str) -> list[str]:
        found = mlflow.search_traces(locations=[experiment_id], filter_string=filter_string, return_type="list")
        return [t.info.trace_id for t in found]

    assert ids("feedback.quality = 'good'") == [good]
    assert ids("feedback.score > 0.5") == [good]
    assert ids("feedback.quality IS NOT NULL") == [bad, good]
    assert ids("expectation.expected IS NULL") == [bad]

    updated = mlflow.update_assessment(
        trace_id=good,
        assessment_id=feedback.assessment_id,
        assessment=mlflow.entities.Feedback(name="quality", value="great"),
    )
    assert updated.value == "great"
    assert ids("feedback.quality = 'great'") == [good]

    # An override replaces the earlier judgement in searches; deleting it brings the earlier one back.
    override = mlflow.override_feedback(trace_id=bad, assessment_id=_assessment_id(tracing, bad), value="fine")
    assert ids("feedback.quality = 'poor'") == []
    assert ids("feedback.quality = 'fine'") == [bad]
    mlflow.delete_assessment(bad, override.assessment_id)
    assert ids("feedback.quality = 'poor'") == [bad]

    with pytest.raises(MlflowException, match="not found") as error:
        mlflow.get_assessment(good, "a-missing")
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def _assessment_id(client: MlflowClient, trace_id: str) -> str:
    return next(a.assessment_id for a in client.get_trace(trace_id).info.assessments if a.name == "quality")


def test_order_by_tag_puts_missing_values_last(tracing: MlflowClient, experiment_id: str) -> None:
    b = _traced_call("b", tags={"rank": "b"})
    untagged = _traced_call("none")
    a = _traced_call("a", tags={"rank": "a"})
    for direction, expected in (("ASC", [a, b, untagged]), ("DESC", [b, a, untagged])):
        found = tracing.search_traces(locations=[experiment_id], order_by=[f"tags.rank {direction}"])
        assert [t.info.trace_id for t in found] == expected


def test_mlflow_2_trace_calls(server: LiveServer, mlflow_client: MlflowClient) -> None:
    experiment_id = mlflow_client.create_experiment(unique("traces-v2"))
    base = f"{server.url}/api/2.0/mlflow/traces"
    started = httpx.post(
        base,
        json={
            "experiment_id": experiment_id,
            "timestamp_ms": 1_000,
            "request_metadata": [{"key": "origin", "value": "v2"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    )
    assert started.status_code == 200, started.text
    info = started.json()["trace_info"]
    assert info["status"] == "IN_PROGRESS"
    request_id = info["request_id"]
    ended = httpx.patch(f"{base}/{request_id}", json={"timestamp_ms": 1_250, "status": "OK"}).json()["trace_info"]
    assert ended["status"] == "OK"
    assert ended["execution_time_ms"] == 250
    fetched = httpx.get(f"{base}/{request_id}/info").json()["trace_info"]
    assert {"key": "team", "value": "a"} in fetched["tags"]
    assert {"key": "origin", "value": "v2"} in fetched["request_metadata"]
    listed = httpx.get(base, params={"experiment_ids": experiment_id}).json()["traces"]
    assert [t["request_id"] for t in listed] == [request_id]


def _start_body(experiment_id: str | None = "0", **fields: object) -> dict[str, object]:
    info: dict[str, object] = {"trace_id": "tr-1", **fields}
    if experiment_id is not None:
        info["trace_location"] = {"mlflow_experiment": {"experiment_id": experiment_id}}
    return {"trace": {"trace_info": info}}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "Missing value for required parameter 'trace'."),
        (_start_body(None), 400, "mlflow_experiment.experiment_id"),
        (_start_body(request_time="yesterday"), 400, "expected an RFC 3339 time"),
        (_start_body(state="DONE"), 400, "Invalid trace state 'DONE'"),
        (_start_body("918273"), 404, "No Experiment with id=918273 exists"),
        (_start_body(client_request_id="c" * 51), 400, "'client_request_id' exceeds the maximum length of 50"),
        (_start_body(trace_metadata={"k" * 251: "v"}), 400, "must be 1 to 250 characters long"),
        (_start_body(tags={"k" * 251: "v"}), 400, "exceeds the maximum length of 250"),
        (_start_body(trace_id="t" * 51), 400, "exceeds the maximum length of 50"),
    ],
)
def test_bad_start_trace_requests(server: LiveServer, body: dict[str, object], status: int, message: str) -> None:
    response = httpx.post(f"{server.url}/api/3.0/mlflow/traces", json=body)
    assert response.status_code == status
    assert message in response.json()["message"]
    assert response.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")


def test_unknown_trace_is_a_404(server: LiveServer) -> None:
    for url in ("/api/3.0/mlflow/traces/tr-nope", "/api/3.0/mlflow/traces/get?trace_id=tr-nope"):
        response = httpx.get(server.url + url)
        assert response.status_code == 404
        assert response.json() == {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": "Trace with ID 'tr-nope' not found.",
        }


def test_filter_correlation(tracing: MlflowClient, experiment_id: str) -> None:
    from mlflow.tracing.client import TracingClient

    for _ in range(3):
        _traced_call("fails in prod", fail=True, tags={"env": "prod"})
    _traced_call("fine in prod", tags={"env": "prod"})
    for _ in range(4):
        _traced_call("fine in dev", tags={"env": "dev"})
    result = TracingClient().calculate_trace_filter_correlation(
        experiment_ids=[experiment_id], filter_string1="tags.env = 'prod'", filter_string2="trace.status = 'ERROR'"
    )
    assert (result.filter1_count, result.filter2_count, result.joint_count, result.total_count) == (4, 3, 3, 8)
    assert 0.5 < result.npmi <= 1.0
    never = TracingClient().calculate_trace_filter_correlation(
        experiment_ids=[experiment_id], filter_string1="tags.env = 'dev'", filter_string2="trace.status = 'ERROR'"
    )
    assert never.npmi == -1.0
    none = TracingClient().calculate_trace_filter_correlation(
        experiment_ids=[experiment_id],
        filter_string1="tags.env = 'staging'",
        filter_string2="trace.status = 'ERROR'",
        base_filter="tags.env = 'prod'",
    )
    assert math.isnan(none.npmi)
    assert none.total_count == 4


def test_default_async_export_loses_nothing(mlflow_client: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow's default: spans and trace info leave from background threads, in either order.
    monkeypatch.delenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", raising=False)
    mlflow.tracing.reset()
    experiment_id = str(mlflow_client.create_experiment(unique("traces-async")))
    mlflow.set_experiment(experiment_id=experiment_id)
    try:
        ids = [_traced_call(f"q{i}") for i in range(5)]
        mlflow.flush_trace_async_logging(terminate=False)
    finally:
        mlflow.tracing.reset()
    found = mlflow_client.search_traces(locations=[experiment_id])
    assert sorted(t.info.trace_id for t in found) == sorted(ids)
    assert all({span.name for span in t.data.spans} == {"answer", "retrieve"} for t in found)
    assert all(t.info.state.value == "OK" for t in found)


def test_search_in_an_unknown_experiment_finds_nothing(tracing: MlflowClient) -> None:
    assert list(tracing.search_traces(locations=["918273"])) == []
    with pytest.raises(MlflowException, match="Experiment ID must be a valid integer") as error:
        tracing.search_traces(locations=["not-a-number"])
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"
