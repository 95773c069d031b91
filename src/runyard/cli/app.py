"""The ``runyard`` command: one Typer app with a sub-command group per concern."""

from __future__ import annotations

import typer

from runyard import __version__
from runyard.cli import agent, config, db, job, model, pool, queue, recipe, server, token, user, worker

app = typer.Typer(
    name="runyard",
    help="runyard: MLflow-compatible tracking, model registry and GPU compute pools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("server")(server.server)
app.command("agent")(agent.agent)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(recipe.app, name="recipe")
app.add_typer(job.app, name="job")
app.add_typer(queue.app, name="queue")
app.add_typer(pool.app, name="pool")
app.add_typer(worker.app, name="worker")
app.add_typer(model.app, name="model")
app.add_typer(user.app, name="user")
app.add_typer(token.app, name="token")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"runyard {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """runyard: MLflow-compatible tracking, model registry and GPU compute pools."""


def main() -> None:
    app()
