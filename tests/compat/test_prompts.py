"""The prompt registry with the real client: register, load, versions, aliases, search (mlflow.genai)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from tests.conftest import unique
from tests.support.servers import LiveServer


def test_register_load_alias_and_search_prompts(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    name = unique("greeting")
    first = mlflow.genai.register_prompt(name, "Hello, {{name}}!", commit_message="first")
    second = mlflow.genai.register_prompt(name, "Hi {{name}}, welcome.", tags={"tone": "warm"})
    assert (first.version, second.version) == (1, 2)
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").template == "Hello, {{name}}!"
    latest = mlflow.genai.load_prompt(f"prompts:/{name}@latest")
    assert (latest.version, latest.format(name="Ada")) == (2, "Hi Ada, welcome.")
    mlflow.genai.set_prompt_alias(name, "production", 1)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production").template == "Hello, {{name}}!"
    found = [prompt.name for prompt in mlflow.genai.search_prompts(f"name = '{name}'")]
    assert found == [name]
    # Prompts stay out of model searches, as in MLflow.
    assert name not in [model.name for model in mlflow_client.search_registered_models()]


def test_a_prompt_version_needs_a_placeholder_source(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    name = unique("prompt-source")
    mlflow.genai.register_prompt(name, "x {{y}}")
    registry = mlflow_client._get_registry_client().store
    with pytest.raises(MlflowException) as refused:
        registry.create_model_version(
            name,
            "s3://bucket/anything",
            tags=[mlflow.entities.model_registry.ModelVersionTag("mlflow.prompt.is_prompt", "true")],
        )
    assert "Prompt sources must use an MLflow placeholder" in str(refused.value)
