"""Entry point for server worker processes: the app built from ``RUNYARD_*`` environment."""

from __future__ import annotations

from fastapi import FastAPI

from runyard.api.app import create_app
from runyard.settings import ServerSettings
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner


def create_app_from_environment() -> FastAPI:
    """Used by ``runyard server --workers N``: the parent has migrated already, workers only check."""
    settings = ServerSettings()
    database = Database.from_url(settings.database_url)
    runner.ensure_up_to_date(database.engine)
    return create_app(settings, database)
