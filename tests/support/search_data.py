"""One dataset of runs, logged identically to MLflow's own SQL store and to a runyard server.

The search compatibility tests log it through the real ``mlflow`` client to both (MLflow's
``SqlAlchemyStore`` on a temporary SQLite file, in-process, and a live runyard server over HTTP) and
compare what the two return. Run ids differ between the stores, so runs are compared by name, and
filters that need an id (``attributes.run_id IN …``) are written with placeholders that each store
fills with its own ids.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

T0 = 1_700_000_000_000
CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True)
class RunSpec:
    name: str
    offset: int  # start_time = T0 + offset * 1000 (distinct, so ties never fall through to run ids)
    experiment: str = "a"
    user: str = "alice"
    status: str | None = "FINISHED"  # None leaves the run RUNNING
    params: dict[str, str] = field(default_factory=dict)
    # (key, value, step, timestamp offset): several points per key exercise "latest value" semantics
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[tuple[str, str, str]] = field(default_factory=list)  # (name, digest, context)
    rename: str | None = None
    deleted: bool = False

    @property
    def start_time(self) -> int:
        return T0 + self.offset * 1000

    @property
    def end_time(self) -> int | None:
        return None if self.status is None else self.start_time + 500 + self.offset * 7


NAN = math.nan
INF = math.inf

RUNS: list[RunSpec] = [
    RunSpec(
        "r01", 1, params={"lr": "0.1", "opt": "adam", "layers": "10"},
        metrics=[("acc", 0.5, 0, 1), ("acc", 0.8, 1, 2), ("loss", 0.3, 0, 1)],
        tags={"team": "vision", "stage": "Alpha"}, datasets=[("train_ds", "d1", "train")],
    ),
    RunSpec(
        "r02", 2, user="bob", status="FAILED", params={"lr": "0.01", "opt": "Adam", "layers": "9"},
        metrics=[("acc", 0.7, 0, 1), ("acc", 0.9, 0, 2), ("loss", 1.0, 0, 1), ("loss", NAN, 1, 1)],
        tags={"team": "nlp", "stage": "alpha"},
    ),
    RunSpec(
        "r03", 3, status=None, params={"lr": "0.001", "opt": "sgd"},
        metrics=[("acc", 0.8, 0, 1), ("loss", 0.1, 0, 1)],
        tags={"team": "vision"}, datasets=[("eval_ds", "d2", "eval")],
    ),
    RunSpec(
        "r04", 4, user="carol", status="KILLED", params={"lr": "1e-3"},
        metrics=[("acc", INF, 0, 1), ("my metric", 5.0, 0, 1)],
        tags={"stage": "Beta", "with space": "yes"},
    ),
    RunSpec("r05", 5, metrics=[("acc", -1.0, 0, 1)], tags={"team": "", "weird": "a*b[1]?", "ünï": "Ça va"}),
    RunSpec(
        "r06", 6, params={"opt": "adam", "layers": "2"},
        metrics=[("acc", 0.1, 0, 9), ("acc", 0.8, 5, 1), ("loss", 0.2, 0, 1)],
        tags={"Team": "vision"}, datasets=[("train_ds", "d1", "training"), ("eval_ds", "d2", "eval")],
    ),
    RunSpec(
        "r07", 7, user="bob", params={"opt": "rmsprop"},
        metrics=[("acc", 1.0, 2, 1), ("acc", 0.2, 3, 1), ("my metric", 4.5, 0, 1)],
        tags={"team": "Vision", "stage": "gamma"},
    ),
    RunSpec(
        "r08", 8, params={"lr": "0.1"}, metrics=[("acc", 0.95, 0, 1)], tags={"team": "vision"}, deleted=True
    ),
    RunSpec(
        "r09", 9, user="Alice", params={"lr": "0.1", "opt": "adamw"},
        metrics=[("acc", 1.0, 0, 1), ("loss", 0.3, 0, 1)], tags={"team": "nlp"},
        datasets=[("Train_DS", "d3", "TRAIN")],
    ),
    RunSpec("r10", 10, status="FAILED", params={"lr": "0.5"}, metrics=[("acc", NAN, 0, 1)], rename="renamed-10"),
    RunSpec("r11", 11, user="dave", status=None, params={"lr": "10"}, tags={"team": "vision_x"}),
    RunSpec(
        "r12", 12, params={"lr": "9", "opt": "a_am"}, metrics=[("acc", 0.0, 0, 1), ("loss", 5.0, 0, 1)],
        tags={"team": "vision "},
    ),
    RunSpec("b01", 13, experiment="b", params={"lr": "0.1"}, metrics=[("acc", 0.7, 0, 1)], tags={"team": "vision"}),
    RunSpec("b02", 14, experiment="b", status="KILLED", metrics=[("acc", 0.99, 0, 1)], deleted=True),
]  # fmt: skip


@dataclass
class Logged:
    """What one store holds of the dataset: its client, experiment ids and run ids by name."""

    client: MlflowClient
    experiments: dict[str, str]
    run_ids: dict[str, str]

    def fill(self, text: str) -> str:
        """Replace ``{ids:r01,r03}`` with ``('<id>', '<id>')`` and ``{id:r01}`` with ``'<id>'``."""

        def ids(match: re.Match[str]) -> str:
            names = match.group(2).split(",")
            quoted = [f"'{self.run_ids[name]}'" for name in names]
            return quoted[0] if match.group(1) == "id" else "(" + ", ".join(quoted) + ")"

        return re.sub(r"\{(ids?):([\w,-]+)\}", ids, text)

    def search(
        self,
        filter_string: str = "",
        order_by: list[str] | None = None,
        *,
        experiments: tuple[str, ...] = ("a",),
        view_type: int = 1,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        found = self.client.search_runs(
            [self.experiments[e] for e in experiments],
            filter_string=self.fill(filter_string),
            run_view_type=view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        token = found.token.decode() if isinstance(found.token, bytes) else found.token
        return [run.info.run_name for run in found], token


def log_dataset(client: MlflowClient, artifact_location: Callable[[str], str | None]) -> Logged:
    """Log :data:`RUNS` through ``client`` into two new experiments."""
    suffix = uuid.uuid4().hex[:8]
    experiments = {
        key: client.create_experiment(f"search-{key}-{suffix}", artifact_location=artifact_location(key))
        for key in ("a", "b")
    }
    run_ids: dict[str, str] = {}
    for spec in RUNS:
        run = client.create_run(
            experiments[spec.experiment],
            start_time=spec.start_time,
            tags={"mlflow.user": spec.user, **spec.tags},
            run_name=spec.name,
        )
        run_id = run.info.run_id
        run_ids[spec.name] = run_id
        if spec.params or spec.metrics:
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, spec.start_time + ts, step) for k, v, step, ts in spec.metrics],
                params=[],
            )
            for key, value in spec.params.items():
                client.log_param(run_id, key, value)
        if spec.datasets:
            client.log_inputs(
                run_id,
                datasets=[
                    DatasetInput(Dataset(name, digest, "local", f"/data/{name}"), [InputTag(CONTEXT_TAG, context)])
                    for name, digest, context in spec.datasets
                ],
            )
        if spec.rename:
            client.update_run(run_id, name=spec.rename)
        if spec.status is not None:
            client.set_terminated(run_id, spec.status, end_time=spec.end_time)
        if spec.deleted:
            client.delete_run(run_id)
    for spec in RUNS:
        if spec.rename:
            run_ids[spec.rename] = run_ids[spec.name]
    return Logged(client, experiments, run_ids)
