"""Trace workloads: OTLP span ingest (``POST /v1/traces``) and search-traces over a large experiment.

Both servers get the same protobuf bodies (``ExportTraceServiceRequest``), built before timing.
The search data set is loaded over OTLP too (untimed), in large batches of one-span traces whose
resource carries an ``env`` attribute (stored as a trace tag by both servers).
"""

from __future__ import annotations

import os
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from bench_data import BASE_TIME_MS
from httpclient import check, encode, latencies_ms, percentile, post, run_concurrently
from servers import refresh_statistics
from workloads.base import Bench, Workload
from workloads.seeding import seed_directly

OTLP_PATH = "/v1/traces"
SEARCH_PATH = "/api/3.0/mlflow/traces/search"
SEARCH_FILTER = "tags.env = 'prod' AND trace.status = 'OK'"
SEARCH_PAGE = 100
SEED_TRACES_PER_REQUEST = 500


def _experiment(bench: Bench, name: str) -> str:
    return str(post(bench.client, "/experiments/create", encode({"name": name}))["experiment_id"])


def _export(traces: int, spans_per_trace: int, *, env: str, first_ms: int) -> bytes:
    """One export of ``traces`` traces, each a root span and ``spans_per_trace - 1`` children."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="env", value=AnyValue(string_value=env)))
    scope = resource_spans.scope_spans.add()
    for t in range(traces):
        trace_id = os.urandom(16)
        start = (first_ms + t) * 1_000_000
        status = Status.STATUS_CODE_ERROR if t % 4 == 3 else Status.STATUS_CODE_OK
        for s in range(spans_per_trace):
            span = Span(
                trace_id=trace_id,
                span_id=(s + 1).to_bytes(8, "big"),
                name="handle" if s == 0 else f"step-{s}",
                start_time_unix_nano=start + s * 1_000,
                end_time_unix_nano=start + 900_000 if s == 0 else start + (s + 1) * 1_000,
                status=Status(code=status if s == 0 else Status.STATUS_CODE_OK),
            )
            if s:
                span.parent_span_id = (1).to_bytes(8, "big")
            span.attributes.append(KeyValue(key="step.index", value=AnyValue(int_value=s)))
            scope.spans.append(span)
    return request.SerializeToString()


def _send(client: httpx.Client, experiment_id: str, body: bytes) -> None:
    headers = {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    check(client.post(OTLP_PATH, content=body, headers=headers))


def otlp_ingest(bench: Bench) -> dict[str, float]:
    """Spans per second through ``/v1/traces``, all clients exporting at once (10-span traces)."""
    sizes = bench.sizes
    experiment_id = _experiment(bench, "bench-otlp")
    traces_per_request = max(1, sizes.otlp_spans_per_request // 10)
    bodies = [
        _export(traces_per_request, 10, env="prod", first_ms=BASE_TIME_MS + j * traces_per_request)
        for j in range(sizes.otlp_requests)
    ]
    _send(bench.client, experiment_id, _export(1, 10, env="warm", first_ms=BASE_TIME_MS - 1))  # warm-up
    with bench.measuring("otlp-ingest"):
        timed = run_concurrently(bench.clients, [lambda c, b=b: _send(c, experiment_id, b) for b in bodies])
    return {
        "otlp_spans_per_s": sizes.otlp_requests * traces_per_request * 10 / timed.seconds,
        "otlp_p95_ms": percentile(timed.latencies, 95) * 1000,
    }


def trace_search(bench: Bench) -> dict[str, float]:
    """Latency of one filtered search-traces page over ``search_traces`` traces (loaded untimed)."""
    sizes = bench.sizes
    experiment_id = _experiment(bench, "bench-trace-search")
    requests = max(1, sizes.search_traces // SEED_TRACES_PER_REQUEST)
    bodies = (
        []
        if bench.seed_directly
        else [
            _export(
                SEED_TRACES_PER_REQUEST,
                1,
                env="prod" if j % 2 == 0 else "dev",
                first_ms=BASE_TIME_MS + j * SEED_TRACES_PER_REQUEST,
            )
            for j in range(requests)
        ]
    )
    began = time.monotonic()
    if bench.seed_directly:
        # MLflow ingests some tens of traces per second on a small machine: 100,000 would take hours.
        seed_directly(
            "traces", bench.database_url, experiment_id, str(sizes.search_traces), str(BASE_TIME_MS),
            str(SEED_TRACES_PER_REQUEST),
        )  # fmt: skip
    else:
        for body in bodies:  # one loader: MLflow's SQLite store refuses concurrent writers ("database is locked")
            _send(bench.client, experiment_id, body)
    loaded_s = time.monotonic() - began
    refresh_statistics(bench.database_url)  # as autovacuum would after a bulk load (no-op on SQLite)
    body = encode(
        {
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
            "filter": SEARCH_FILTER,
            "order_by": ["timestamp_ms DESC"],
            "max_results": SEARCH_PAGE,
        }
    )

    def search() -> list[object]:
        response = check(bench.client.post(SEARCH_PATH, content=body, headers={"content-type": "application/json"}))
        traces: list[object] = response.json().get("traces", [])
        return traces

    page: list[object] = []
    for _ in range(3):  # warm-up
        page = search()
    if len(page) != SEARCH_PAGE:
        raise RuntimeError(f"search-traces returned {len(page)} traces, expected a full page")
    with bench.measuring("trace-search"):
        p50, p95 = latencies_ms(search, sizes.trace_search_queries)
    return {
        "trace_search_p50_ms": p50,
        "trace_search_p95_ms": p95,
        "trace_search_returned": float(len(page)),
        "trace_search_load_s": loaded_s,
    }


WORKLOADS = [
    Workload("otlp-ingest", ("otlp_spans_per_s", "otlp_p95_ms"), otlp_ingest),
    Workload(
        "trace-search",
        ("trace_search_p50_ms", "trace_search_p95_ms", "trace_search_returned", "trace_search_load_s"),
        trace_search,
    ),
]
