"""Data for the browser tests, logged through the real mlflow client and the runyard SDK."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from tests.conftest import unique


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    run_ids: list[str]


def seed_experiment(client: MlflowClient, runs: int = 3, points: int = 200) -> Experiment:
    name = unique("ui-exp")
    experiment_id = client.create_experiment(name)
    run_ids = []
    for i in range(runs):
        run = client.create_run(experiment_id, run_name=f"trial-{i}")
        run_id = run.info.run_id
        metrics = [Metric("loss", math.exp(-s / 40) + 0.01 * i, 1_000_000 + s, s) for s in range(points)]
        metrics.append(Metric("accuracy", 0.6 + 0.1 * i, 1_000_000, 0))
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param("lr", str(0.1 / (i + 1))), Param("optimizer", "adam")],
            tags=[RunTag("team", "vision" if i % 2 else "nlp")],
        )
        client.log_text(run_id, "epoch,loss\n1,0.50\n2,0.25\n", "metrics.csv")
        client.log_dict(run_id, {"layers": [64, 32], "dropout": 0.1}, "config.json")
        client.set_terminated(run_id)
        run_ids.append(run_id)
    return Experiment(experiment_id, name, run_ids)
