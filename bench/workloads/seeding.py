"""Load the large data sets (search runs, registered models) into a server, untimed.

Through the REST API by default; for MLflow, straight into its database with its own table models
(``bench/mlflow_seed.py``) unless ``--mlflow-seed rest`` — same rows, minutes faster.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import httpx

import bench_data
from httpclient import encode, post, run_concurrently
from servers import MLFLOW_BIN, REPO, refresh_statistics
from workloads.base import Bench

SEEDER = REPO / "bench" / "mlflow_seed.py"


def seed_directly(*args: str) -> None:
    python = MLFLOW_BIN.parent / "python"
    done = subprocess.run([str(python), str(SEEDER), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"mlflow_seed.py {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")


def search_runs(bench: Bench, experiment_id: str, count: int) -> None:
    if bench.seed_directly:
        seed_directly("runs", bench.database_url, experiment_id, str(count))
    else:
        _search_runs_via_rest(bench, experiment_id, count)
    refresh_statistics(bench.database_url)


def _search_runs_via_rest(bench: Bench, experiment_id: str, count: int) -> None:
    specs = list(bench_data.search_runs(count))
    run_ids = [""] * count

    def create(client: httpx.Client, i: int) -> None:
        spec = specs[i]
        body = {
            "experiment_id": experiment_id,
            "run_name": spec.name,
            "start_time": spec.start_time,
            "tags": [{"key": k, "value": v} for k, v in spec.tags if k != "mlflow.runName"],
        }
        run_ids[i] = post(client, "/runs/create", encode(body))["run"]["info"]["run_id"]

    def fill(client: httpx.Client, i: int) -> None:
        spec = specs[i]
        body = {
            "run_id": run_ids[i],
            "params": [{"key": k, "value": v} for k, v in spec.params],
            "metrics": [{"key": k, "value": v, "timestamp": spec.start_time, "step": 0} for k, v in spec.metrics],
        }
        post(client, "/runs/log-batch", encode(body))

    run_concurrently(bench.clients, [partial(create, i=i) for i in range(count)], timed=False)
    run_concurrently(bench.clients, [partial(fill, i=i) for i in range(count)], timed=False)


def registered_models(bench: Bench, count: int) -> None:
    if bench.seed_directly:
        seed_directly("models", bench.database_url, str(count))
    else:
        _registered_models_via_rest(bench, count)
    refresh_statistics(bench.database_url)


def _registered_models_via_rest(bench: Bench, count: int) -> None:
    bodies = [
        encode(
            {
                "name": spec.name,
                "description": spec.description,
                "tags": [{"key": k, "value": v} for k, v in spec.tags],
            }
        )
        for spec in bench_data.registered_models(count)
    ]
    run_concurrently(
        bench.clients, [lambda c, b=b: post(c, "/registered-models/create", b) for b in bodies], timed=False
    )
