"""Entry point for server worker processes: the app built from ``RUNYARD_*`` environment."""

from __future__ import annotations

from fastapi import FastAPI

from runyard.server.app import create_app
from runyard.server.assembly import open_checked_database
from runyard.settings import ServerSettings


def create_app_from_environment() -> FastAPI:
    """Used by ``runyard server --workers N``: the parent has migrated already, workers only check."""
    settings = ServerSettings()
    return create_app(settings, open_checked_database(settings))
