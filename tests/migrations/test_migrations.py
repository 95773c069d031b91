"""The Alembic chain: one head, models and migrations agree everywhere, data survives upgrades."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.stores.metadata.engine import make_engine
from runyard.stores.migrations import runner
from tests.support.services import BACKENDS, fresh_database

HOW_TO_FIX = (
    "HOW TO FIX: the live tables (src/runyard/stores/metadata/*tables.py) and the migrations disagree. "
    "Add a migration under src/runyard/stores/migrations/versions/ that brings the schema to the live tables."
)


def test_single_head() -> None:
    heads = runner.head_revisions()
    assert len(heads) == 1, f"the migration chain has {len(heads)} heads {heads}; add a merge revision"


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_and_migrations_agree(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, str(tmp_path)) as url:
        engine = make_engine(url)
        try:
            runner.upgrade(engine)
            differences = runner.schema_differences(engine)
        finally:
            engine.dispose()
    assert differences == [], f"{backend}: {differences}\n{HOW_TO_FIX}"


def _columns(engine: sa.Engine, tables: list[str]) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    return {name: [column["name"] for column in inspector.get_columns(name)] for name in tables}


def _snapshot(
    engine: sa.Engine, tables: list[str], columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of ``tables``; with ``columns``, only those (later revisions may add columns)."""
    columns = columns or _columns(engine, tables)
    table_objects = {name: sa.table(name, *(sa.column(c) for c in columns[name])) for name in tables}
    with engine.connect() as connection:
        return {
            name: sorted(tuple(row) for row in connection.execute(sa.select(table)))
            for name, table in table_objects.items()
        }


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_keeps_existing_data(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, str(tmp_path)) as url:
        engine = make_engine(url)
        try:
            runner.upgrade(engine, target="0001_tracking")
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                        "creation_time, last_update_time) VALUES (7, 'kept', 'mlflow-artifacts:/7', 'active', 1, 2)"
                    )
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, "
                        "lifecycle_stage, artifact_uri) VALUES ('r1', 'run', 7, 'u', 'RUNNING', 5, 'active', 'x')"
                    )
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO metrics (run_uuid, `key`, step, timestamp, value, is_nan) VALUES "
                        "('r1', 'loss', 1, 10, 0.5, false)".replace("`", '"' if backend != "mariadb" else "`")
                    )
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO params (run_uuid, "
                        + ("`key`" if backend == "mariadb" else '"key"')
                        + ", value) VALUES ('r1', 'lr', '0.1')"
                    )
                )
            tables = ["experiments", "runs", "metrics", "params"]
            columns = _columns(engine, tables)
            before = _snapshot(engine, tables, columns)
            applied = runner.upgrade(engine)
            after = _snapshot(engine, tables, columns)
            assert runner.current_revision(engine) == runner.head_revisions()[0]
        finally:
            engine.dispose()
    assert applied, "expected later revisions to apply"
    assert after == before


def _runyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runyard", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_server_refuses_out_of_date_database(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, str(tmp_path)) as url:
        engine = make_engine(url)
        runner.upgrade(engine, target="0001_tracking")
        engine.dispose()
        result = _runyard("server", "--backend-store-uri", url, "--data-dir", str(tmp_path), "--port", "1")
        assert result.returncode != 0
        assert "runyard db upgrade" in result.stderr
        assert "Traceback" not in result.stderr
        current = _runyard("db", "current", "--backend-store-uri", url)
        assert "0001_tracking" in current.stdout and "pending" in current.stdout
        upgraded = _runyard("db", "upgrade", "--backend-store-uri", url)
        assert upgraded.returncode == 0, upgraded.stderr
        again = _runyard("db", "upgrade", "--backend-store-uri", url)
        assert again.returncode == 0 and "up to date" in again.stdout
        assert _runyard("db", "check", "--backend-store-uri", url).returncode == 0


def test_db_commands_fail_clearly_on_unreachable_database() -> None:
    result = _runyard("db", "current", "--backend-store-uri", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
