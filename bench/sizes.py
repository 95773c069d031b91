"""Workload sizes: the issue's sizes by default, small ones for a quick smoke run (``--quick``)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does; every loop in the suite is bounded by these numbers."""

    clients: int = 8  # concurrent kept-alive clients for the throughput workloads
    runs_created: int = 1_000  # runs/create calls timed (spread over the clients)
    search_runs: int = 10_000  # runs (3 params, 3 metrics, 3 tags each) the search-runs workload searches
    batch_requests: int = 200  # log-batch requests in the ingestion workload (spread over the clients)
    batch_size: int = 1000  # metric points per log-batch request
    single_requests: int = 1_000  # single log-metric requests (spread over the clients)
    search_queries: int = 30  # timed runs/search calls (after 3 warm-up calls)
    history_points: int = 100_000  # points of the one metric read back by get-history
    history_repeats: int = 3
    artifact_mb: int = 100  # size of the uploaded/downloaded file, MiB
    artifact_repeats: int = 3
    registry_models: int = 10_000  # registered models searched with a tag filter
    registry_queries: int = 30
    otlp_requests: int = 200  # OTLP exports in the span-ingest workload (spread over the clients)
    otlp_spans_per_request: int = 1000  # spans per export (10-span traces)
    search_traces: int = 100_000  # one-span traces the search-traces workload searches
    trace_search_queries: int = 30
    compute_jobs: int = 10_000  # queued jobs the simulated agents drain (scheduler throughput)
    compute_agents: int = 50  # simulated agents claiming at once
    compute_batch: int = 16  # max_assignments per claim (see bench/workloads/compute.py)
    dispatch_submissions: int = 30  # timed submissions to one idle agent (simulated, then real)

    def describe(self) -> str:
        return (
            f"{self.clients} clients; {self.runs_created:,} runs created; search over {self.search_runs:,} runs; "
            f"log-batch {self.batch_requests} × {self.batch_size}; "
            f"{self.single_requests:,} log-metric; {self.search_queries} searches; "
            f"history {self.history_points:,} points; artifact {self.artifact_mb} MiB; "
            f"{self.registry_models:,} registered models; "
            f"OTLP {self.otlp_requests} × {self.otlp_spans_per_request} spans; "
            f"search over {self.search_traces:,} traces"
        )


FULL = Sizes()
QUICK = replace(
    FULL,
    runs_created=200,
    search_runs=500,
    batch_requests=24,
    single_requests=240,
    search_queries=10,
    history_points=5_000,
    history_repeats=2,
    artifact_mb=8,
    artifact_repeats=2,
    registry_models=300,
    registry_queries=10,
    otlp_requests=24,
    otlp_spans_per_request=200,
    search_traces=2_000,
    trace_search_queries=10,
    compute_jobs=1_000,
    compute_agents=10,
    dispatch_submissions=10,
)
