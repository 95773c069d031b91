"""Apply and inspect migrations: ``runyard db upgrade``, ``db current``, ``db check`` and start-up checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from runyard.errors import Unavailable
from runyard.stores.metadata.schema import metadata

MIGRATIONS_DIR = Path(__file__).parent


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revisions() -> tuple[str, ...]:
    """The head revision(s) of the chain; a healthy chain has exactly one."""
    return tuple(ScriptDirectory.from_config(_config()).get_heads())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending_revisions(engine: Engine, target: str = "heads") -> list[str]:
    """Revisions between the database's current one and ``target`` (head), oldest first."""
    script = ScriptDirectory.from_config(_config())
    current = current_revision(engine)
    pending = [rev.revision for rev in script.iterate_revisions(target, current)]
    return list(reversed(pending))


def upgrade(
    engine: Engine,
    *,
    target: str = "heads",
    progress: Callable[[str], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> list[str]:
    """Bring the database to ``target`` (default: head), one revision at a time; returns those applied.

    ``progress`` hears each revision as it starts; ``report`` how far a long data migration got.
    """
    applied = pending_revisions(engine, target)
    config = _config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copying it and dropping the original; with foreign keys
            # on, SQLite cascades that drop to every child row (an experiment's tags, say). The pragma
            # only takes effect outside a transaction, so it is set on the driver connection first.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                config.attributes["report"] = report
                for revision in applied:
                    if progress is not None:
                        progress(revision)
                    command.upgrade(config, revision)
                if sqlite:
                    _check_sqlite_foreign_keys(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)
    return applied


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    """Refuse (roll back) a migration that left a row pointing at nothing while the checks were off."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise Unavailable(f"the migration left {len(broken)} row(s) with a broken foreign key: {broken[:5]}")


def schema_differences(engine: Engine) -> list[object]:
    """Differences between the live tables and the database (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def ensure_up_to_date(engine: Engine) -> None:
    """Refuse to serve an out-of-date database, saying which command fixes it."""
    pending = pending_revisions(engine)
    if pending:
        raise Unavailable(
            f"the database schema is out of date ({len(pending)} migration(s) pending: "
            f"{', '.join(pending)}); run `runyard db upgrade --backend-store-uri …` first"
        )
