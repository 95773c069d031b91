"""Model registry workload: search over many registered models with a tag filter (latency p50/p95)."""

from __future__ import annotations

import time

from httpclient import encode, get, percentile, post, run_concurrently
from workloads.base import Bench, Workload

TEAMS = ("vision", "speech", "nlp", "ranking", "ads", "search", "robotics", "health", "finance", "infra")
FILTER = "tags.team = 'vision'"
PAGE = 100


def registry_search(bench: Bench) -> dict[str, float]:
    """Untimed: register the models (each with tags). Timed: one filtered search page, one client."""
    count = bench.sizes.registry_models
    bodies = [
        encode(
            {
                "name": f"model-{i:05d}",
                "tags": [{"key": "team", "value": TEAMS[i % len(TEAMS)]}, {"key": "tier", "value": str(i % 3)}],
                "description": f"benchmark model {i}",
            }
        )
        for i in range(count)
    ]
    post(bench.client, "/registered-models/create", bodies[0])  # fails fast (Unavailable) without a registry
    run_concurrently(
        bench.clients, [lambda c, b=b: post(c, "/registered-models/create", b) for b in bodies[1:]], timed=False
    )
    params = {"filter": FILTER, "max_results": PAGE}
    returned = 0
    for _ in range(3):  # warm-up
        returned = len(get(bench.client, "/registered-models/search", params).get("registered_models", []))
    if returned == 0:
        raise RuntimeError("registered-models search returned nothing")
    latencies = []
    for _ in range(bench.sizes.registry_queries):
        began = time.perf_counter()
        get(bench.client, "/registered-models/search", params)
        latencies.append(time.perf_counter() - began)
    return {
        "registry_p50_ms": percentile(latencies, 50) * 1000,
        "registry_p95_ms": percentile(latencies, 95) * 1000,
    }


WORKLOADS = [Workload("registry-search", ("registry_p50_ms", "registry_p95_ms"), registry_search)]
