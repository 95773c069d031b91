"""Alembic migrations of the metadata database (one chain for SQLite, PostgreSQL and MariaDB)."""
