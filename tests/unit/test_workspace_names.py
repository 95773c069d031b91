"""Workspace names are accepted and refused exactly as MLflow's ``WorkspaceNameValidator`` does."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.workspace.abstract_store import WorkspaceNameValidator

from runyard.domain.workspaces import DEFAULT_WORKSPACE, validate_name, workspace_from_header
from runyard.errors import InvalidParameter

NAMES = [
    "ab",
    "team-a",
    "a1",
    "x" * 63,
    "x" * 64,
    "a",
    "-a",
    "a-",
    "A1",
    "a_b",
    "a.b",
    "api",
    "workspaces",
    "static-files",
    "ajax-api",
    "9lives",
    "é-team",
    "a--b",
]


@pytest.mark.parametrize("name", NAMES)
def test_same_verdict_and_message_as_mlflow(name: str) -> None:
    try:
        WorkspaceNameValidator.validate(name)
        expected = None
    except MlflowException as error:
        expected = error.message
    if expected is None:
        assert validate_name(name) == name
    else:
        with pytest.raises(InvalidParameter) as refused:
            validate_name(name)
        assert refused.value.message == expected


def test_no_header_or_a_blank_one_is_the_default_workspace() -> None:
    assert workspace_from_header(None) == DEFAULT_WORKSPACE
    assert workspace_from_header("  ") == DEFAULT_WORKSPACE
    assert workspace_from_header(" team-a ") == "team-a"
    with pytest.raises(InvalidParameter):
        workspace_from_header("Team A")
