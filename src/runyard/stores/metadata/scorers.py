"""Queries of registered scorers, their versions and their online scoring configurations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from runyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from runyard.stores.metadata.evaluation_tables import online_scoring_configs, scorer_versions, scorers
from runyard.stores.metadata.tables import experiments


def get_scorer_row(connection: Connection, experiment_id: int, name: str, *, lock: bool = False) -> Row[Any] | None:
    statement = select(scorers).where(scorers.c.experiment_id == experiment_id, scorers.c.scorer_name == name)
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def insert_scorer(connection: Connection, scorer_id: str, experiment_id: int, name: str) -> None:
    connection.execute(insert(scorers).values(scorer_id=scorer_id, experiment_id=experiment_id, scorer_name=name))


def max_version(connection: Connection, scorer_id: str) -> int:
    statement = select(func.max(scorer_versions.c.scorer_version)).where(scorer_versions.c.scorer_id == scorer_id)
    value = connection.execute(statement).scalar()
    return int(value or 0)


def insert_version(connection: Connection, scorer_id: str, version: int, serialized: str, now: int) -> None:
    connection.execute(
        insert(scorer_versions).values(
            scorer_id=scorer_id, scorer_version=version, serialized_scorer=serialized, creation_time=now
        )
    )


def _versions_statement() -> Any:
    return select(
        scorers.c.scorer_id,
        scorers.c.experiment_id,
        scorers.c.scorer_name,
        scorer_versions.c.scorer_version,
        scorer_versions.c.serialized_scorer,
        scorer_versions.c.creation_time,
    ).join(scorer_versions, scorer_versions.c.scorer_id == scorers.c.scorer_id)


def _to_version(row: Row[Any]) -> ScorerVersion:
    return ScorerVersion(
        scorer_id=row.scorer_id,
        experiment_id=str(row.experiment_id),
        scorer_name=row.scorer_name,
        scorer_version=int(row.scorer_version),
        serialized_scorer=row.serialized_scorer,
        creation_time=int(row.creation_time),
    )


def versions_of(connection: Connection, scorer_id: str) -> list[ScorerVersion]:
    statement = _versions_statement().where(scorers.c.scorer_id == scorer_id).order_by(scorer_versions.c.scorer_version)
    return [_to_version(row) for row in connection.execute(statement)]


def get_version(connection: Connection, scorer_id: str, version: int | None) -> ScorerVersion | None:
    statement = _versions_statement().where(scorers.c.scorer_id == scorer_id)
    if version is None:
        statement = statement.order_by(scorer_versions.c.scorer_version.desc()).limit(1)
    else:
        statement = statement.where(scorer_versions.c.scorer_version == version)
    row = connection.execute(statement).first()
    return None if row is None else _to_version(row)


def latest_versions(connection: Connection, experiment_ids: Sequence[int]) -> list[ScorerVersion]:
    """The newest version of every scorer of ``experiment_ids``, by experiment then name."""
    if not experiment_ids:
        return []
    newest = (
        select(scorer_versions.c.scorer_id, func.max(scorer_versions.c.scorer_version).label("latest"))
        .group_by(scorer_versions.c.scorer_id)
        .subquery()
    )
    statement = (
        _versions_statement()
        .join(
            newest,
            (newest.c.scorer_id == scorer_versions.c.scorer_id) & (newest.c.latest == scorer_versions.c.scorer_version),
        )
        .where(scorers.c.experiment_id.in_(list(experiment_ids)))
        .order_by(scorers.c.experiment_id, scorers.c.scorer_name)
    )
    return [_to_version(row) for row in connection.execute(statement)]


def delete_versions(connection: Connection, scorer_id: str, version: int | None) -> int:
    statement = delete(scorer_versions).where(scorer_versions.c.scorer_id == scorer_id)
    if version is not None:
        statement = statement.where(scorer_versions.c.scorer_version == version)
    return int(connection.execute(statement).rowcount or 0)


def delete_scorer(connection: Connection, scorer_id: str) -> None:
    connection.execute(delete(online_scoring_configs).where(online_scoring_configs.c.scorer_id == scorer_id))
    connection.execute(delete(scorer_versions).where(scorer_versions.c.scorer_id == scorer_id))
    connection.execute(delete(scorers).where(scorers.c.scorer_id == scorer_id))


def scorer_experiments(connection: Connection, scorer_ids: Sequence[str], workspace: str | None) -> dict[str, str]:
    """The experiment of each of ``scorer_ids`` that is in ``workspace`` (others are left out)."""
    if not scorer_ids:
        return {}
    statement = (
        select(scorers.c.scorer_id, scorers.c.experiment_id)
        .join(experiments, experiments.c.experiment_id == scorers.c.experiment_id)
        .where(scorers.c.scorer_id.in_(list(scorer_ids)))
    )
    if workspace is not None:
        statement = statement.where(experiments.c.workspace == workspace)
    return {str(row.scorer_id): str(row.experiment_id) for row in connection.execute(statement)}


# --- online scoring ---


def _to_config(row: Row[Any]) -> OnlineScoringConfig:
    return OnlineScoringConfig(
        online_scoring_config_id=row.online_scoring_config_id,
        scorer_id=row.scorer_id,
        experiment_id=str(row.experiment_id),
        sample_rate=float(row.sample_rate),
        filter_string=row.filter_string,
    )


def replace_config(connection: Connection, config: OnlineScoringConfig) -> None:
    connection.execute(delete(online_scoring_configs).where(online_scoring_configs.c.scorer_id == config.scorer_id))
    connection.execute(
        insert(online_scoring_configs).values(
            online_scoring_config_id=config.online_scoring_config_id,
            scorer_id=config.scorer_id,
            experiment_id=int(config.experiment_id),
            sample_rate=config.sample_rate,
            filter_string=config.filter_string,
        )
    )


def configs_of(connection: Connection, scorer_ids: Sequence[str]) -> list[OnlineScoringConfig]:
    if not scorer_ids:
        return []
    statement = (
        select(online_scoring_configs)
        .where(online_scoring_configs.c.scorer_id.in_(list(scorer_ids)))
        .order_by(online_scoring_configs.c.scorer_id)
    )
    return [_to_config(row) for row in connection.execute(statement)]
