"""The deterministic data sets both servers are loaded with (standard library only: the MLflow seeder imports it)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

BASE_TIME_MS = 1_767_225_600_000  # 2026-01-01, fixed so both servers hold identical rows
MODELS = ("a", "b", "c", "d")
TEAMS = ("vision", "speech", "nlp", "ranking", "ads", "search", "robotics", "health", "finance", "infra")

Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class RunSpec:
    name: str
    start_time: int
    params: Pairs
    metrics: list[tuple[str, float]]
    tags: Pairs


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    tags: Pairs


def search_runs(count: int) -> Iterator[RunSpec]:
    """``count`` runs with three params, three metrics and two tags each (seeded: same on every call)."""
    rng = random.Random(42)
    for i in range(count):
        loss, acc = rng.random(), rng.random()
        name = f"r{i:05d}"
        yield RunSpec(
            name=name,
            start_time=BASE_TIME_MS + i,
            params=[
                ("model", MODELS[i % len(MODELS)]),
                ("lr", str(rng.choice((0.1, 0.01, 0.001)))),
                ("layers", str(rng.randint(1, 12))),
            ],
            metrics=[("loss", loss), ("acc", acc), ("epoch", float(i % 50))],
            tags=[("mlflow.runName", name), ("team", f"t{i % 7}"), ("seed", str(i))],
        )


def registered_models(count: int) -> Iterator[ModelSpec]:
    for i in range(count):
        yield ModelSpec(
            name=f"model-{i:05d}",
            description=f"benchmark model {i}",
            tags=[("team", TEAMS[i % len(TEAMS)]), ("tier", str(i % 3))],
        )
