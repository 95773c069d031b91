"""Tracking workloads: run creation, metric ingestion (batched and single), search-runs, metric history."""

from __future__ import annotations

import time
from functools import partial

import httpx

from bench_data import BASE_TIME_MS
from httpclient import encode, get, latencies_ms, percentile, post, run_concurrently
from servers import refresh_statistics
from workloads import seeding
from workloads.base import Bench, Workload

SEARCH_FILTER = "metrics.loss < 0.5 and params.model = 'b'"
SEARCH_ORDER = ["metrics.loss ASC"]
SEARCH_PAGE = 100


def _experiment(bench: Bench, name: str) -> str:
    return str(post(bench.client, "/experiments/create", encode({"name": name}))["experiment_id"])


def _create_runs(bench: Bench, experiment_id: str, count: int) -> tuple[list[str], float]:
    """Create ``count`` runs from all clients at once; returns their ids and the wall time."""
    ids: list[str] = [""] * count
    bodies = [
        encode({"experiment_id": experiment_id, "start_time": BASE_TIME_MS + i, "run_name": f"c{i}"})
        for i in range(count)
    ]

    def create(client: httpx.Client, i: int) -> None:
        ids[i] = post(client, "/runs/create", bodies[i])["run"]["info"]["run_id"]

    timed = run_concurrently(bench.clients, [partial(create, i=i) for i in range(count)])
    return ids, timed.seconds


def runs_create(bench: Bench) -> dict[str, float]:
    """Runs created per second, all clients creating at once in one experiment."""
    experiment_id = _experiment(bench, "bench-create")
    with bench.measuring("runs-create"):
        run_ids, seconds = _create_runs(bench, experiment_id, bench.sizes.runs_created)
    return {"runs_created_per_s": len(run_ids) / seconds}


def log_batch(bench: Bench) -> dict[str, float]:
    """Metric points per second through log-batch, one run per client, distinct steps (no duplicates)."""
    sizes = bench.sizes
    run_ids, _ = _create_runs(bench, _experiment(bench, "bench-ingest"), len(bench.clients))
    keys = 10
    steps = sizes.batch_size // keys
    bodies = []
    for j in range(sizes.batch_requests):
        client_index, round_ = j % len(bench.clients), j // len(bench.clients)
        metrics = [
            {
                "key": f"m{k}",
                "value": (round_ * steps + s) * 0.001 + k,
                "timestamp": BASE_TIME_MS + round_ * steps + s,
                "step": round_ * steps + s,
            }
            for s in range(steps)
            for k in range(keys)
        ]
        bodies.append(encode({"run_id": run_ids[client_index], "metrics": metrics}))
    with bench.measuring("log-batch"):
        timed = run_concurrently(bench.clients, [lambda c, b=b: post(c, "/runs/log-batch", b) for b in bodies])
    return {
        "batch_points_per_s": sizes.batch_requests * keys * steps / timed.seconds,
        "batch_p95_ms": percentile(timed.latencies, 95) * 1000,
    }


def log_metric(bench: Bench) -> dict[str, float]:
    """Single log-metric requests per second, one run per client."""
    run_ids, _ = _create_runs(bench, _experiment(bench, "bench-single"), len(bench.clients))
    bodies = [
        encode(
            {
                "run_id": run_ids[j % len(bench.clients)],
                "key": "loss",
                "value": 1.0 / (j + 1),
                "timestamp": BASE_TIME_MS + j,
                "step": j // len(bench.clients),
            }
        )
        for j in range(bench.sizes.single_requests)
    ]
    with bench.measuring("log-metric"):
        timed = run_concurrently(bench.clients, [lambda c, b=b: post(c, "/runs/log-metric", b) for b in bodies])
    return {
        "log_metric_per_s": len(bodies) / timed.seconds,
        "log_metric_p95_ms": percentile(timed.latencies, 95) * 1000,
    }


def search_runs(bench: Bench) -> dict[str, float]:
    """Latency of one filtered, ordered search page over ``search_runs`` runs (loaded untimed; one client)."""
    experiment_id = _experiment(bench, "bench-search")
    seeding.search_runs(bench, experiment_id, bench.sizes.search_runs)
    body = encode(
        {
            "experiment_ids": [experiment_id],
            "filter": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "max_results": SEARCH_PAGE,
        }
    )
    page: list[dict[str, object]] = []
    for _ in range(3):  # warm-up: connection, caches, first-use imports
        page = post(bench.client, "/runs/search", body).get("runs", [])
    if not page:  # every data set this suite builds has matching runs
        raise RuntimeError("search-runs returned no runs")
    bench.extras["search_first_page"] = [run["info"]["run_name"] for run in page]  # type: ignore[index]
    with bench.measuring("search-runs"):
        p50, p95 = latencies_ms(lambda: post(bench.client, "/runs/search", body), bench.sizes.search_queries)
    return {
        "search_p50_ms": p50,
        "search_p95_ms": p95,
        "search_returned": float(len(page)),
    }


def _read_history(client: httpx.Client, run_id: str, key: str) -> int:
    """Every point of the metric, following page tokens when the server pages; returns the count."""
    count, token = 0, None
    for _ in range(100_000):  # bounded: a server that never stops paging is an error
        params = {"run_id": run_id, "metric_key": key}
        if token:
            params["page_token"] = token
        page = get(client, "/metrics/get-history", params)
        count += len(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            return count
    raise RuntimeError("get-history kept returning page tokens")


def history(bench: Bench) -> dict[str, float]:
    """Time to read back one metric's whole history (loaded untimed through log-batch)."""
    total = bench.sizes.history_points
    (run_id,), _ = _create_runs(bench, _experiment(bench, "bench-history"), 1)
    bodies = [
        encode(
            {
                "run_id": run_id,
                "metrics": [
                    {"key": "curve", "value": step * 0.5, "timestamp": BASE_TIME_MS + step, "step": step}
                    for step in range(start, min(start + 1000, total))
                ],
            }
        )
        for start in range(0, total, 1000)
    ]
    run_concurrently(bench.clients, [lambda c, b=b: post(c, "/runs/log-batch", b) for b in bodies], timed=False)
    refresh_statistics(bench.database_url)
    _read_history(bench.client, run_id, "curve")  # warm-up
    times, counts = [], []
    with bench.measuring("history"):
        for _ in range(bench.sizes.history_repeats):
            began = time.perf_counter()
            counts.append(_read_history(bench.client, run_id, "curve"))
            times.append(time.perf_counter() - began)
    if any(count != total for count in counts):
        raise RuntimeError(f"get-history returned {counts} points, expected {total}")
    return {"history_s": percentile(times, 50)}


WORKLOADS = [
    Workload("runs-create", ("runs_created_per_s",), runs_create),
    Workload("log-batch", ("batch_points_per_s", "batch_p95_ms"), log_batch),
    Workload("log-metric", ("log_metric_per_s", "log_metric_p95_ms"), log_metric),
    Workload("search-runs", ("search_p50_ms", "search_p95_ms", "search_returned"), search_runs),
    Workload("history", ("history_s",), history),
]
