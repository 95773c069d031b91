"""The workspaces revision: existing data lands in ``default``, intact, and names become per-workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runyard.stores.metadata.compute_tables import jobs, queues, recipe_versions, recipes
from runyard.stores.metadata.engine import make_engine
from runyard.stores.metadata.registry_tables import model_versions, registered_models, registry_events
from runyard.stores.metadata.tables import experiment_tags, experiments, runs, workspaces
from runyard.stores.migrations import runner
from tests.support.services import BACKENDS, fresh_database

BEFORE = "0005_metrics_without_run_fk"


def _insert(connection: sa.Connection, table: str, **values: Any) -> None:
    # Plain table objects naming only the columns that exist before the revision.
    connection.execute(sa.insert(sa.table(table, *(sa.column(name) for name in values))).values(**values))


def _seed(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _insert(
            connection,
            "experiments",
            experiment_id=7,
            name="kept",
            artifact_location="mlflow-artifacts:/7",
            lifecycle_stage="active",
            creation_time=1,
            last_update_time=2,
        )
        _insert(connection, "experiment_tags", experiment_id=7, key="team", value="vision")
        _insert(
            connection,
            "runs",
            run_uuid="r1",
            name="run",
            experiment_id=7,
            user_id="u",
            status="RUNNING",
            start_time=5,
            lifecycle_stage="active",
            artifact_uri="x",
        )
        _insert(
            connection,
            "registered_models",
            id=3,
            name="model",
            storage_id="s" * 32,
            last_version=1,
            creation_time=1,
            last_updated_time=1,
        )
        _insert(
            connection,
            "model_versions",
            model_id=3,
            version=1,
            creation_time=1,
            last_updated_time=1,
            current_stage="None",
            source="s",
            status="READY",
            storage_path="p",
        )
        _insert(
            connection,
            "registry_events",
            timestamp=1,
            event_type="model.created",
            model_name="model",
            user_id="u",
            details="{}",
        )
        _insert(connection, "recipes", name="train", latest_version=1, creation_time=1, last_update_time=1)
        _insert(
            connection,
            "recipe_versions",
            name="train",
            version=1,
            digest="sha256:ab",
            manifest="{}",
            bundle_path="b",
            bundle_size=1,
            creation_time=1,
        )
        _insert(connection, "queues", name="gpu", priority=5, creation_time=1)
        _insert(
            connection,
            "jobs",
            job_id=11,
            recipe_name="train",
            recipe_version=1,
            queue="gpu",
            parameters="{}",
            env="{}",
            gpus=0,
            priority=0,
            queue_rank=-5,
            priority_rank=0,
            max_retries=0,
            state="queued",
            attempt=0,
            cancel_requested=False,
            inactive=False,
            submitted_time=1,
            last_update_time=1,
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_existing_rows_land_in_default_and_names_become_per_workspace(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, str(tmp_path)) as url:
        engine = make_engine(url)
        try:
            runner.upgrade(engine, target=BEFORE)
            _seed(engine)
            runner.upgrade(engine)
            with engine.connect() as connection:
                assert connection.execute(sa.select(workspaces.c.name)).scalars().all() == ["default"]
                for table in (experiments, registered_models, registry_events, recipes, recipe_versions, queues, jobs):
                    found = set(connection.execute(sa.select(table.c.workspace)).scalars())
                    assert found == {"default"}, table.name
                # Children of rebuilt tables survive (SQLite rebuilds parents in batch mode).
                assert connection.execute(sa.select(experiment_tags.c.value)).scalars().all() == ["vision"]
                assert connection.execute(sa.select(runs.c.run_uuid)).scalars().all() == ["r1"]
                assert connection.execute(sa.select(model_versions.c.version)).scalars().all() == [1]
                assert connection.execute(sa.select(recipe_versions.c.digest)).scalars().all() == ["sha256:ab"]
                assert connection.execute(sa.select(queues.c.priority)).scalars().all() == [5]
            with engine.begin() as connection:
                connection.execute(sa.insert(workspaces).values(name="team-a", creation_time=1, last_update_time=1))
                # The same names in another workspace are allowed now.
                connection.execute(sa.insert(experiments).values(workspace="team-a", name="kept"))
                connection.execute(
                    sa.insert(registered_models).values(
                        workspace="team-a", name="model", storage_id="t" * 32, creation_time=1, last_updated_time=1
                    )
                )
                connection.execute(
                    sa.insert(recipes).values(
                        workspace="team-a", name="train", latest_version=0, creation_time=1, last_update_time=1
                    )
                )
                connection.execute(
                    sa.insert(queues).values(workspace="team-a", name="gpu", priority=0, creation_time=1)
                )
            # …but still unique within one.
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
                connection.execute(sa.insert(experiments).values(workspace="team-a", name="kept"))
            # …and nothing can be put in a workspace that does not exist.
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
                connection.execute(sa.insert(experiments).values(workspace="nowhere", name="x"))
        finally:
            engine.dispose()
