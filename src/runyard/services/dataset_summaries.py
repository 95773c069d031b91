"""Which datasets the runs of some experiments consumed (MLflow UI's ``experiments/search-datasets``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.errors import InvalidParameter
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import datasets as dataset_store
from runyard.stores.metadata import experiments as experiment_store

MAX_EXPERIMENT_IDS_PER_REQUEST = 20
MAX_DATASET_SUMMARIES_RESULTS = 1000


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    context: str | None


def search_dataset_summaries(connection: Connection, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
    """Distinct (experiment, dataset, context) triples, at most 1,000, of experiments in this workspace."""
    if not experiment_ids:
        raise InvalidParameter("SearchDatasets request must specify at least one experiment_id.")
    if len(experiment_ids) > MAX_EXPERIMENT_IDS_PER_REQUEST:
        raise InvalidParameter(
            f"SearchDatasets request cannot specify more than {MAX_EXPERIMENT_IDS_PER_REQUEST} experiment_ids. "
            f"Received {len(experiment_ids)} experiment_ids."
        )
    numbers: list[int] = []
    for value in experiment_ids:
        text = str(value)
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise InvalidParameter(f"Invalid experiment ID: '{text}'")
        numbers.append(int(text))
    visible = experiment_store.ids_among(connection, numbers, workspace_scope())
    rows = dataset_store.dataset_summaries(connection, visible, limit=MAX_DATASET_SUMMARIES_RESULTS)
    return [DatasetSummary(str(experiment), name, digest, context) for experiment, name, digest, context in rows]
