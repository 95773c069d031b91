"""Datasets and their links to runs (MLflow's ``datasets``, ``inputs`` and ``input_tags``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select

from runyard.domain.tracking import Dataset, Tag
from runyard.stores.metadata import dialects
from runyard.stores.metadata.tables import datasets, input_tags, inputs

# The input tag naming how a run used a dataset (training, evaluation…), as MLflow sets it.
DATASET_CONTEXT_TAG = "mlflow.data.context"


def get_or_create_dataset(connection: Connection, experiment_id: int, dataset: Dataset, *, new_id: str) -> str:
    """The id of the experiment's dataset with this name and digest, creating it if new."""
    lookup = select(datasets.c.dataset_uuid).where(
        datasets.c.experiment_id == experiment_id,
        datasets.c.name == dataset.name,
        datasets.c.digest == dataset.digest,
    )
    existing = connection.execute(lookup).scalar()
    if existing is not None:
        return str(existing)
    connection.execute(
        dialects.insert_ignoring_duplicates(connection, datasets).values(
            dataset_uuid=new_id,
            experiment_id=experiment_id,
            name=dataset.name,
            digest=dataset.digest,
            source_type=dataset.source_type,
            source=dataset.source,
            schema=dataset.schema,
            profile=dataset.profile,
        )
    )
    # A concurrent writer may have won the race; either way one row now exists.
    return str(connection.execute(lookup).scalar_one())


def link_input(connection: Connection, dataset_uuid: str, run_id: str, tags: Sequence[Tag], *, new_id: str) -> None:
    """Record that ``run_id`` used the dataset (once, however often it is logged)."""
    existing = connection.execute(
        select(inputs.c.input_uuid).where(
            inputs.c.source_type == "DATASET",
            inputs.c.source_id == dataset_uuid,
            inputs.c.destination_type == "RUN",
            inputs.c.destination_id == run_id,
        )
    ).scalar()
    if existing is not None:
        return
    connection.execute(
        insert(inputs).values(
            input_uuid=new_id,
            source_type="DATASET",
            source_id=dataset_uuid,
            destination_type="RUN",
            destination_id=run_id,
        )
    )
    if tags:
        connection.execute(
            insert(input_tags), [{"input_uuid": new_id, "name": tag.key, "value": tag.value} for tag in tags]
        )


def dataset_summaries(
    connection: Connection, experiment_ids: Sequence[int], *, limit: int
) -> list[tuple[int, str, str, str | None]]:
    """(experiment id, name, digest, context tag) of the datasets the experiments' runs consumed."""
    context = input_tags.alias("context")
    statement = (
        select(datasets.c.experiment_id, datasets.c.name, datasets.c.digest, context.c.value)
        .select_from(
            datasets.join(inputs, inputs.c.source_id == datasets.c.dataset_uuid).outerjoin(
                context, (context.c.input_uuid == inputs.c.input_uuid) & (context.c.name == DATASET_CONTEXT_TAG)
            )
        )
        .where(datasets.c.experiment_id.in_(list(experiment_ids)))
        .distinct()
        .order_by(datasets.c.experiment_id, datasets.c.name, datasets.c.digest, context.c.value)
        .limit(limit)
    )
    return [(int(row[0]), str(row[1]), str(row[2]), row[3]) for row in connection.execute(statement)]
