"""The Traces page with traces made by the real mlflow client: search, the span tree, inputs, outputs, feedback."""

from __future__ import annotations

import re

import mlflow
import pytest
from mlflow.entities import AssessmentSource
from playwright.sync_api import Page, expect

from tests.conftest import unique
from tests.support.servers import LiveServer


def _make_trace(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.set_tracking_uri(server.url)
    experiment = mlflow.set_experiment(unique("ui-traces"))
    name = unique("agent")

    @mlflow.trace(span_type="TOOL")
    def lookup(query: str) -> dict[str, list[str]]:
        return {"hits": [query.upper()]}

    @mlflow.trace(name=name, span_type="AGENT")
    def agent(question: str) -> str:
        lookup(question)
        with mlflow.start_span(name="llm", span_type="LLM") as span:
            span.set_inputs({"prompt": f"answer: {question}"})
            span.set_outputs({"answer": "forty-two"})
        return "forty-two"

    agent("what is the answer")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    mlflow.log_feedback(
        trace_id=trace_id,
        name="correct",
        value=True,
        rationale="matches the reference",
        source=AssessmentSource(source_type="HUMAN", source_id="alice"),
    )
    del experiment
    return trace_id, name


def test_traces_page_searches_and_shows_the_span_tree_and_assessments(
    page: Page, ui_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id, name = _make_trace(ui_server, monkeypatch)
    page.goto("/#/traces")
    page.get_by_label("Search traces").fill(name)
    row = page.get_by_role("row").filter(has_text=trace_id)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("what is the answer")

    page.get_by_label("Filter traces").fill(f"tags.mlflow.traceName = '{name}'")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(2)  # header + the trace

    row.get_by_role("link", name=trace_id).click()
    expect(page.get_by_role("heading", name=f"Trace {name}")).to_be_visible()
    tree = page.get_by_role("tree", name="Span tree")
    expect(tree.get_by_role("treeitem")).to_have_count(3)
    expect(tree.get_by_role("treeitem", name=name)).to_have_attribute("aria-level", "1")
    expect(tree.get_by_role("treeitem", name="lookup")).to_have_attribute("aria-level", "2")
    expect(tree.get_by_role("treeitem", name="llm")).to_have_attribute("aria-level", "2")
    expect(tree.get_by_role("treeitem", name=name)).to_contain_text(re.compile(r"\d+(\.\d+)? (ms|s)"))

    # The root span is shown first; choosing another shows its own inputs and outputs.
    expect(page.get_by_label("Span inputs")).to_contain_text("what is the answer")
    tree.get_by_role("treeitem", name="llm").click()
    expect(page.get_by_label("Span inputs")).to_contain_text("answer: what is the answer")
    expect(page.get_by_label("Span outputs")).to_contain_text("forty-two")

    assessments = page.get_by_role("region", name="Assessments")
    expect(assessments.get_by_role("row").filter(has_text="correct")).to_contain_text("true")
    expect(assessments).to_contain_text("HUMAN: alice")
    expect(assessments).to_contain_text("matches the reference")
