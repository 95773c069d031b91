"""``runyard db``: apply and inspect schema migrations."""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from runyard.cli.output import console, fail
from runyard.cli.settings_flags import BackendStoreOption, ConfigOption, DataDirOption, build_settings
from runyard.settings import redact_url
from runyard.stores.metadata.engine import make_engine
from runyard.stores.migrations import runner

app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    config: ConfigOption = None, data_dir: DataDirOption = None, backend_store_uri: BackendStoreOption = None
) -> None:
    """Apply every pending migration (safe to run repeatedly)."""
    settings = build_settings(config, data_dir=data_dir, backend_store_uri=backend_store_uri)
    engine = make_engine(settings.database_url)
    try:
        pending = runner.pending_revisions(engine)
        if not pending:
            console.print(f"{redact_url(settings.database_url)} is up to date ({runner.current_revision(engine)})")
            return
        total = len(pending)
        position = iter(range(1, total + 1))
        runner.upgrade(
            engine,
            progress=lambda revision: console.print(f"[{next(position)}/{total}] applying {revision}"),
            report=lambda line: console.print(f"      {line}"),
        )
        console.print(f"[green]upgraded to {runner.current_revision(engine)}[/]")
    except SQLAlchemyError as error:
        fail(f"cannot migrate {redact_url(settings.database_url)}: {error.__class__.__name__}: {error.args[0]}")
    finally:
        engine.dispose()


@app.command("current")
def current(
    config: ConfigOption = None, data_dir: DataDirOption = None, backend_store_uri: BackendStoreOption = None
) -> None:
    """Print the database's schema revision and whether migrations are pending."""
    settings = build_settings(config, data_dir=data_dir, backend_store_uri=backend_store_uri)
    engine = make_engine(settings.database_url)
    try:
        revision = runner.current_revision(engine)
        pending = runner.pending_revisions(engine)
    except SQLAlchemyError as error:
        fail(f"cannot read {redact_url(settings.database_url)}: {error.__class__.__name__}: {error.args[0]}")
    finally:
        engine.dispose()
    console.print(f"current: {revision or '(empty database)'}")
    console.print(f"head:    {', '.join(runner.head_revisions())}")
    if pending:
        console.print(f"pending: {', '.join(pending)} — run `runyard db upgrade`")


@app.command("check")
def check(
    config: ConfigOption = None, data_dir: DataDirOption = None, backend_store_uri: BackendStoreOption = None
) -> None:
    """Exit non-zero if the database is behind head or differs from runyard's schema."""
    settings = build_settings(config, data_dir=data_dir, backend_store_uri=backend_store_uri)
    engine = make_engine(settings.database_url)
    try:
        pending = runner.pending_revisions(engine)
        if pending:
            fail(f"{len(pending)} migration(s) pending ({', '.join(pending)}); run `runyard db upgrade`")
        differences = runner.schema_differences(engine)
        if differences:
            fail(f"the database schema differs from runyard's: {differences}")
    except SQLAlchemyError as error:
        fail(f"cannot read {redact_url(settings.database_url)}: {error.__class__.__name__}: {error.args[0]}")
    finally:
        engine.dispose()
    console.print("[green]schema is up to date[/]")
