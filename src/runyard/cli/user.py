"""``runyard user``: operators manage local users directly in the metadata database (through services)."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from runyard.cli.output import console, fail
from runyard.cli.remote import JsonOption, print_json, print_table, when
from runyard.cli.settings_flags import BackendStoreOption, ConfigOption, DataDirOption, build_settings
from runyard.errors import RunyardError
from runyard.services import identity_users
from runyard.services.identity_startup import new_user_policy
from runyard.settings import ServerSettings, redact_url
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner

app = typer.Typer(help="Manage local users (in the metadata database).", no_args_is_help=True)

PASSWORD_ENV = "RUNYARD_USER_PASSWORD"
T = TypeVar("T")


def _settings(config: Path | None, data_dir: Path | None, backend_store_uri: str | None) -> ServerSettings:
    return build_settings(config, data_dir=data_dir, backend_store_uri=backend_store_uri)


@contextlib.contextmanager
def _database(config: Path | None, data_dir: Path | None, backend_store_uri: str | None) -> Iterator[Database]:
    settings = _settings(config, data_dir, backend_store_uri)
    database = Database.from_url(settings.database_url)
    try:
        if settings.should_migrate_on_start:
            runner.upgrade(database.engine)
        else:
            runner.ensure_up_to_date(database.engine)
        yield database
    except RunyardError as error:
        fail(error.message)
    except SQLAlchemyError as error:
        fail(f"cannot use {redact_url(settings.database_url)}: {error.__class__.__name__}: {error.args[0]}")
    finally:
        database.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return typer.get_text_stream("stdin").readline().rstrip("\n")
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        fail("the passwords do not match")
    return first


StdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help=f"Read the password from stdin (else env {PASSWORD_ENV}, else a prompt)."),
]


@app.command("create")
def create(
    username: str,
    email: Annotated[str | None, typer.Option("--email", help="The user's email address.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="Sign-in through OpenID only.")] = False,
    password_stdin: StdinOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
) -> None:
    """Create a local user."""
    password = None if no_password else _read_password(password_stdin)
    policy = new_user_policy(_settings(config, data_dir, backend_store_uri))
    with _database(config, data_dir, backend_store_uri) as database, database.write() as connection:
        user = _run(
            connection,
            lambda c: identity_users.create_user(c, username, password, policy=policy, email=email, is_admin=admin),
        )
    console.print(f"created user {user.username}{' (admin)' if user.is_admin else ''}")


@app.command("ls")
def list_users(
    json_output: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
) -> None:
    """List users."""
    with _database(config, data_dir, backend_store_uri) as database, database.read() as connection:
        users = identity_users.list_users(connection)
    if json_output:
        print_json([{"id": u.id, "username": u.username, "email": u.email, "is_admin": u.is_admin,
                     "disabled": u.disabled, "creation_time": u.creation_time} for u in users])  # fmt: skip
        return
    rows = [(u.username, u.email, "yes" if u.is_admin else "", "yes" if u.disabled else "", when(u.creation_time))
            for u in users]  # fmt: skip
    print_table(("USERNAME", "EMAIL", "ADMIN", "DISABLED", "CREATED"), rows, empty="no users")


@app.command("set-password")
def set_password(
    username: str,
    password_stdin: StdinOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
) -> None:
    """Set a user's password (ends the user's browser sessions)."""
    password = _read_password(password_stdin)
    with _database(config, data_dir, backend_store_uri) as database, database.write() as connection:
        _run(connection, lambda c: identity_users.set_password(c, username, password, check_current=False))
    console.print(f"password of {username} changed; their sessions have ended")


@app.command("disable")
def disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again instead.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    backend_store_uri: BackendStoreOption = None,
) -> None:
    """Disable a user: their password, tokens and sessions stop working."""
    with _database(config, data_dir, backend_store_uri) as database, database.write() as connection:
        _run(connection, lambda c: identity_users.set_disabled(c, username, not enable))
    console.print(f"{username} {'enabled' if enable else 'disabled'}")


def _run(connection: Connection, work: Callable[[Connection], T]) -> T:
    try:
        return work(connection)
    except RunyardError as error:
        fail(error.message)
