"""Registered scorers: register (a new version each time), list, read, delete, and online scoring configs.

A scorer belongs to an active experiment of the request's workspace; every call names that
experiment, so a scorer of another workspace is "not found". runyard stores online scoring
configurations for MLflow's client and UI; it does not run scorers itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain import scorers as domain
from runyard.domain.clock import now_ms
from runyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from runyard.domain.search_filter import parse_filter
from runyard.domain.traces_search import TRACES
from runyard.domain.tracking import ViewType
from runyard.domain.validation import parse_experiment_id
from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services.identity_permissions import Readable
from runyard.services.search_experiments import search_experiments
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import experiments as experiment_store
from runyard.stores.metadata import scorers as store


def _experiment(connection: Connection, experiment_id: str | None) -> int:
    experiment = experiment_service.get_experiment(connection, experiment_id)
    experiment_service.require_active(experiment)
    return int(experiment.experiment_id)


def _not_found(name: str, experiment_id: str, version: int | None = None) -> NotFound:
    if version is not None:
        return NotFound(f"Scorer with name '{name}' and version {version} not found for experiment {experiment_id}.")
    return NotFound(f"Scorer with name '{name}' not found for experiment {experiment_id}.")


def _scorer_id(connection: Connection, experiment_id: str | None, name: str | None) -> tuple[int, str]:
    name = domain.validate_name(name)
    experiment = _experiment(connection, experiment_id)
    row = store.get_scorer_row(connection, experiment, name)
    if row is None:
        raise _not_found(name, str(experiment))
    return experiment, str(row.scorer_id)


def register_scorer(
    connection: Connection, experiment_id: str | None, name: str | None, serialized_scorer: str | None
) -> ScorerVersion:
    """Store ``serialized_scorer`` as the next version of scorer ``name`` (1 for a new name)."""
    name = domain.validate_name(name)
    domain.parse_serialized(serialized_scorer)
    assert serialized_scorer is not None
    experiment = _experiment(connection, experiment_id)
    # The experiment row lock serialises registrations in it: a new name is created once, versions never collide.
    experiment_store.lock_experiment(connection, experiment, workspace_scope())
    row = store.get_scorer_row(connection, experiment, name)
    if row is None:
        scorer_id = str(uuid.uuid4())
        store.insert_scorer(connection, scorer_id, experiment, name)
    else:
        scorer_id = str(row.scorer_id)
    version = store.max_version(connection, scorer_id) + 1
    store.insert_version(connection, scorer_id, version, serialized_scorer, now_ms())
    found = store.get_version(connection, scorer_id, version)
    assert found is not None
    return found


def _readable_ids(readable: Readable | None, experiment_ids: Sequence[int]) -> list[int]:
    if readable is None:
        return list(experiment_ids)
    if readable.everything:
        return [e for e in experiment_ids if str(e) not in readable.denied]
    return [e for e in experiment_ids if str(e) in readable.ids and str(e) not in readable.denied]


def list_scorers(
    connection: Connection,
    *,
    experiment_id: str | None = None,
    experiment_ids: Sequence[str] | None = None,
    readable: Readable | None = None,
) -> list[ScorerVersion]:
    """The latest version of every scorer of one experiment, several, or (neither named) all readable ones."""
    if experiment_id and experiment_ids is not None:
        raise InvalidParameter(
            "Cannot specify both 'experiment_id' and 'experiment_ids'. Use 'experiment_ids' to scope the query "
            "to multiple experiments, or 'experiment_id' to scope it to a single experiment."
        )
    if experiment_id:
        return store.latest_versions(connection, [_experiment(connection, experiment_id)])
    if experiment_ids is not None:
        # As MLflow: experiments that do not exist (or are deleted) are skipped, not errors.
        named = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        active = experiment_store.ids_among(connection, list(dict.fromkeys(named)), workspace_scope())
        return store.latest_versions(connection, _readable_ids(readable, active))
    ids: list[int] = []
    token: str | None = None
    while True:
        page = search_experiments(connection, view_type=ViewType.ACTIVE_ONLY, page_token=token, readable=readable)
        ids += [int(e.experiment_id) for e in page.items]
        if not (token := page.next_page_token):
            break
    return store.latest_versions(connection, ids)


def list_scorer_versions(connection: Connection, experiment_id: str | None, name: str | None) -> list[ScorerVersion]:
    experiment, scorer_id = _scorer_id(connection, experiment_id, name)
    versions = store.versions_of(connection, scorer_id)
    if not versions:
        raise _not_found(str(name), str(experiment))
    return versions


def get_scorer(
    connection: Connection, experiment_id: str | None, name: str | None, version: int | None = None
) -> ScorerVersion:
    experiment, scorer_id = _scorer_id(connection, experiment_id, name)
    found = store.get_version(connection, scorer_id, version)
    if found is None:
        raise _not_found(str(name), str(experiment), version)
    return found


def delete_scorer(connection: Connection, experiment_id: str | None, name: str | None, version: int | None) -> None:
    """Delete one version, or (``version`` None) the scorer with all its versions."""
    experiment, scorer_id = _scorer_id(connection, experiment_id, name)
    if version is None:
        store.delete_scorer(connection, scorer_id)
        return
    if not store.delete_versions(connection, scorer_id, version):
        raise _not_found(str(name), str(experiment), version)


def upsert_online_config(
    connection: Connection,
    experiment_id: str | None,
    name: str | None,
    sample_rate: object,
    filter_string: str | None,
) -> OnlineScoringConfig:
    """Replace a scorer's online scoring configuration (sample rate, trace filter)."""
    rate = domain.validate_sample_rate(sample_rate)
    if filter_string:
        parse_filter(filter_string, TRACES)
    experiment, scorer_id = _scorer_id(connection, experiment_id, name)
    latest = store.get_version(connection, scorer_id, None)
    if latest is not None and rate > 0:
        model = domain.model_of(domain.parse_serialized(latest.serialized_scorer))
        if model is None or not model.startswith(domain.GATEWAY_PREFIX):
            raise InvalidParameter(
                f"Scorer '{name}' does not use a gateway model. Automatic evaluation is only supported for "
                "scorers that use gateway models."
            )
    config = OnlineScoringConfig(
        online_scoring_config_id=uuid.uuid4().hex,
        scorer_id=scorer_id,
        experiment_id=str(experiment),
        sample_rate=rate,
        filter_string=filter_string,
    )
    store.replace_config(connection, config)
    return config


def experiments_of_scorers(connection: Connection, scorer_ids: Sequence[str]) -> list[str]:
    """The experiments (of the request's workspace) the scorers named belong to."""
    return sorted(set(store.scorer_experiments(connection, scorer_ids, workspace_scope()).values()))


def online_configs(connection: Connection, scorer_ids: Sequence[str]) -> list[OnlineScoringConfig]:
    """The configurations of those of ``scorer_ids`` that are scorers of the request's workspace."""
    visible = store.scorer_experiments(connection, scorer_ids, workspace_scope())
    return store.configs_of(connection, list(visible))
