"""Run rows with their params, tags, latest metrics, dataset inputs and model links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    String,
    any_,
    bindparam,
    delete,
    insert,
    literal_column,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from runyard.domain.tracking import (
    Dataset,
    DatasetInput,
    Metric,
    ModelLink,
    Param,
    Run,
    RunInfo,
    Tag,
)
from runyard.stores.metadata import dialects
from runyard.stores.metadata.tables import (
    datasets,
    experiments,
    input_tags,
    inputs,
    latest_metrics,
    params,
    run_model_links,
    run_tags,
    runs,
)

RUN_NAME_TAG = "mlflow.runName"
_NAN = float("nan")


def insert_run(connection: Connection, **values: Any) -> None:
    connection.execute(insert(runs).values(**values))


RUN_COLUMNS = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "last_activity_time",
    "lifecycle_stage",
    "artifact_uri",
)


def insert_run_rows(
    connection: Connection,
    run_rows: Sequence[tuple[Any, ...]],
    tag_rows: Sequence[tuple[str, str, str]],
    param_rows: Sequence[tuple[str, str, str]],
) -> None:
    """New runs (tuples in ``RUN_COLUMNS`` order) with their tags and params, one executemany per table.

    For runs created in this transaction only: tags and params are plain inserts (no existing keys).
    """
    dialects.executemany_insert(connection, runs, RUN_COLUMNS, run_rows)
    dialects.executemany_insert(connection, run_tags, ("run_uuid", "key", "value"), tag_rows)
    dialects.executemany_insert(connection, params, ("run_uuid", "key", "value"), param_rows)


def _in_workspace(workspace: str | None) -> ColumnElement[bool]:
    # A run is in its experiment's workspace; a run id from another workspace finds nothing.
    if workspace is None:
        return true()
    return runs.c.experiment_id.in_(select(experiments.c.experiment_id).where(experiments.c.workspace == workspace))


def lock_run(connection: Connection, run_id: str, *, workspace: str | None) -> Row[Any] | None:
    """Read a run row and lock it, so concurrent writers to one run queue up (not on SQLite,
    where the write transaction already holds the database lock)."""
    statement = select(runs).where(runs.c.run_uuid == run_id, _in_workspace(workspace))
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def get_run_row(connection: Connection, run_id: str, *, workspace: str | None) -> Row[Any] | None:
    return connection.execute(select(runs).where(runs.c.run_uuid == run_id, _in_workspace(workspace))).first()


def start_times(connection: Connection, run_ids: Sequence[str], *, workspace: str | None) -> dict[str, int | None]:
    """The start time of each of ``run_ids`` that exists (in ``workspace``)."""
    statement = select(runs.c.run_uuid, runs.c.start_time).where(runs.c.run_uuid.in_(run_ids), _in_workspace(workspace))
    return {
        row.run_uuid: None if row.start_time is None else int(row.start_time) for row in connection.execute(statement)
    }


def update_run(connection: Connection, run_id: str, **values: Any) -> None:
    connection.execute(update(runs).where(runs.c.run_uuid == run_id).values(**values))


def to_run_info(row: Row[Any]) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        run_name=row.name or "",
        experiment_id=str(row.experiment_id),
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri or "",
        lifecycle_stage=row.lifecycle_stage,
    )


def load_runs(connection: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Build full ``Run`` objects for ``rows`` (run table rows).

    One round trip fetches every child row of the page (latest metrics, params, tags, model links,
    and which runs have dataset inputs) as one ``UNION ALL``: building a page of runs is the hot part
    of search-runs, and on a client/server database each extra round trip costs as much as the rows.
    Dataset details take a second query only for pages that have any.
    """
    run_ids = [row.run_uuid for row in rows]
    if not run_ids:
        return []
    metric_map: dict[str, list[Metric]] = defaultdict(list)
    param_map: dict[str, list[Param]] = defaultdict(list)
    tag_map: dict[str, list[Tag]] = defaultdict(list)
    links_in: dict[str, list[ModelLink]] = defaultdict(list)
    links_out: dict[str, list[ModelLink]] = defaultdict(list)
    with_inputs = False
    if connection.dialect.name == "postgresql":
        child_rows: Sequence[Any] = dialects.fetch_tuples(connection, _CHILD_ROWS_PG, {"run_ids": run_ids})
    else:
        child_rows = connection.execute(_CHILD_ROWS, {"run_ids": run_ids}).all()
    # One branch per kind of child row.
    for kind, run_uuid, key, text, number, timestamp, step, is_nan in child_rows:
        if kind == _METRIC:
            metric_map[run_uuid].append(Metric(key, _NAN if is_nan else number, timestamp, step, run_uuid))
        elif kind == _PARAM:
            param_map[run_uuid].append(Param(key, text))
        elif kind == _TAG:
            tag_map[run_uuid].append(Tag(key, text or ""))
        elif kind == _INPUT:
            with_inputs = True
        else:
            (links_in if text == "input" else links_out)[run_uuid].append(ModelLink(key, step))
    inputs_map = _dataset_inputs(connection, run_ids) if with_inputs else defaultdict(list)
    return [
        Run(
            info=to_run_info(row),
            metrics=metric_map[row.run_uuid],
            params=param_map[row.run_uuid],
            tags=tag_map[row.run_uuid],
            dataset_inputs=inputs_map[row.run_uuid],
            model_inputs=links_in[row.run_uuid],
            model_outputs=links_out[row.run_uuid],
        )
        for row in rows
    ]


_METRIC, _PARAM, _TAG, _INPUT, _LINK = 1, 2, 3, 4, 5


def _child_rows_statement(postgresql: bool) -> CompoundSelect[Any]:
    """Every child row of a set of runs: (kind, run_uuid, key, text, number, timestamp, step, is_nan).

    PostgreSQL gets the run ids as one array parameter (``= ANY``), so the statement text is the
    same for every page size and the driver can prepare it; elsewhere an expanding ``IN``.
    """
    ids = (
        bindparam("run_ids", type_=ARRAY(String), expanding=False)
        if postgresql
        else bindparam("run_ids", expanding=True)
    )

    def among(column: Any) -> ColumnElement[bool]:
        test: ColumnElement[bool] = column == any_(ids) if postgresql else column.in_(ids)
        return test

    def branch(kind: int, run_uuid: Any, key: Any, **columns: Any) -> Select[Any]:
        # Untyped NULLs for the columns a kind lacks: every database takes a union column's type from
        # the branches that have one.
        return select(
            literal_column(str(kind)),
            run_uuid,
            key,
            *(columns.get(name, null()) for name in ("text", "number", "timestamp", "step", "is_nan")),
        ).where(among(run_uuid))

    m, p, t, i, link = latest_metrics.c, params.c, run_tags.c, inputs.c, run_model_links.c
    return union_all(
        branch(_METRIC, m.run_uuid, m.key, number=m.value, timestamp=m.timestamp, step=m.step, is_nan=m.is_nan),
        branch(_PARAM, p.run_uuid, p.key, text=p.value),
        branch(_TAG, t.run_uuid, t.key, text=t.value),
        branch(_INPUT, i.destination_id, i.input_uuid).where(
            i.destination_type == literal_column("'RUN'"), i.source_type == literal_column("'DATASET'")
        ),
        branch(_LINK, link.run_uuid, link.model_id, text=link.direction, step=link.step),
    )


_CHILD_ROWS = _child_rows_statement(postgresql=False)
_CHILD_ROWS_PG = _child_rows_statement(postgresql=True)


def _dataset_inputs(connection: Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    result: dict[str, list[DatasetInput]] = defaultdict(list)
    link_rows = connection.execute(
        select(inputs.c.input_uuid, inputs.c.destination_id, datasets)
        .join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
        .where(
            inputs.c.destination_type == "RUN",
            inputs.c.source_type == "DATASET",
            inputs.c.destination_id.in_(list(run_ids)),
        )
    ).all()
    if not link_rows:
        return result
    tags: dict[str, list[Tag]] = defaultdict(list)
    for r in connection.execute(
        select(input_tags).where(input_tags.c.input_uuid.in_([row.input_uuid for row in link_rows]))
    ):
        tags[r.input_uuid].append(Tag(r.name, r.value))
    for row in link_rows:
        dataset = Dataset(row.name, row.digest, row.source_type, row.source, row.schema, row.profile)
        result[row.destination_id].append(DatasetInput(dataset, tags[row.input_uuid]))
    return result


def set_tags(connection: Connection, run_id: str, tags: Sequence[Tag]) -> None:
    dialects.upsert(
        connection,
        run_tags,
        [{"run_uuid": run_id, "key": tag.key, "value": tag.value} for tag in tags],
        key_columns=("run_uuid", "key"),
        update_columns=("value",),
    )


def get_tag(connection: Connection, run_id: str, key: str) -> str | None:
    return connection.execute(
        select(run_tags.c.value).where(run_tags.c.run_uuid == run_id, run_tags.c.key == key)
    ).scalar()


def delete_tag(connection: Connection, run_id: str, key: str) -> int:
    return connection.execute(delete(run_tags).where(run_tags.c.run_uuid == run_id, run_tags.c.key == key)).rowcount


def existing_params(connection: Connection, run_id: str, keys: Sequence[str]) -> dict[str, str]:
    rows = connection.execute(
        select(params.c.key, params.c.value).where(params.c.run_uuid == run_id, params.c.key.in_(list(keys)))
    )
    return {row.key: row.value for row in rows}


def insert_params(connection: Connection, run_id: str, new_params: Sequence[Param]) -> None:
    if new_params:
        connection.execute(insert(params), [{"run_uuid": run_id, "key": p.key, "value": p.value} for p in new_params])


def link_models(connection: Connection, run_id: str, links: Sequence[ModelLink], direction: str) -> None:
    if not links:
        return
    statement = dialects.insert_ignoring_duplicates(connection, run_model_links)
    connection.execute(
        statement,
        [{"run_uuid": run_id, "model_id": link.model_id, "direction": direction, "step": link.step} for link in links],
    )
