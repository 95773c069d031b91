"""Model registry workload: search over many registered models with a tag filter (latency p50/p95)."""

from __future__ import annotations

from httpclient import get, latencies_ms
from workloads import seeding
from workloads.base import Bench, Workload

FILTER = "tags.team = 'vision'"
PAGE = 100


def registry_search(bench: Bench) -> dict[str, float]:
    """Untimed: register the models (each with tags). Timed: one filtered search page, one client."""
    params = {"filter": FILTER, "max_results": PAGE}
    get(bench.client, "/registered-models/search", params)  # raises Unavailable before any loading
    seeding.registered_models(bench, bench.sizes.registry_models)
    page = []
    for _ in range(3):  # warm-up
        page = get(bench.client, "/registered-models/search", params).get("registered_models", [])
    if not page:
        raise RuntimeError("registered-models search returned nothing")
    bench.extras["registry_first_page"] = [model["name"] for model in page]
    with bench.measuring("registry-search"):
        p50, p95 = latencies_ms(
            lambda: get(bench.client, "/registered-models/search", params), bench.sizes.registry_queries
        )
    return {"registry_p50_ms": p50, "registry_p95_ms": p95}


WORKLOADS = [Workload("registry-search", ("registry_p50_ms", "registry_p95_ms"), registry_search)]
