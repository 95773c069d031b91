"""Build the platform object from settings: open the database (migrating the embedded default) and stores."""

from __future__ import annotations

from runyard.scheduler.platform import Platform
from runyard.services.identity_authenticator import DatabaseAuthenticator
from runyard.settings import ServerSettings
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner


def prepare_database(settings: ServerSettings) -> Database:
    """Open the metadata database: migrate it (embedded default) or refuse an out-of-date one."""
    database = Database.from_url(settings.database_url)
    if settings.should_migrate_on_start:
        runner.upgrade(database.engine)
    else:
        runner.ensure_up_to_date(database.engine)
    return database


def open_checked_database(settings: ServerSettings) -> Database:
    """For worker processes: the parent has migrated already, workers only check."""
    database = Database.from_url(settings.database_url)
    runner.ensure_up_to_date(database.engine)
    return database


def build_platform(settings: ServerSettings, database: Database | None = None) -> Platform:
    """The platform object of one server process."""
    database = database if database is not None else prepare_database(settings)
    authenticator = DatabaseAuthenticator(database, settings) if settings.auth_enabled else None
    return Platform(settings, database, authenticator=authenticator)
