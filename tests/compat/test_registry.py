"""Registered models, tags, aliases and model search with the real ``mlflow`` client, on every backend."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from tests.conftest import unique
from tests.support.registry import new_version


def _code(error: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(error.value.error_code)


def test_create_get_update_rename_delete(mlflow_client):  # type: ignore[no-untyped-def]
    name = unique("crud")
    created = mlflow_client.create_registered_model(name, tags={"team": "fraud"}, description="first")
    assert created.name == name
    assert created.tags == {"team": "fraud"}
    assert created.description == "first"

    updated = mlflow_client.update_registered_model(name, description="second")
    assert updated.description == "second"
    assert mlflow_client.get_registered_model(name).description == "second"

    mlflow_client.rename_registered_model(name, name + "-renamed")
    assert mlflow_client.get_registered_model(name + "-renamed").description == "second"
    with pytest.raises(MlflowException) as missing:
        mlflow_client.get_registered_model(name)
    assert _code(missing) == "RESOURCE_DOES_NOT_EXIST"

    mlflow_client.delete_registered_model(name + "-renamed")
    with pytest.raises(MlflowException) as gone:
        mlflow_client.get_registered_model(name + "-renamed")
    assert _code(gone) == "RESOURCE_DOES_NOT_EXIST"


def test_duplicate_name_is_resource_already_exists(mlflow_client):  # type: ignore[no-untyped-def]
    name = unique("dup")
    mlflow_client.create_registered_model(name)
    with pytest.raises(MlflowException) as duplicate:
        mlflow_client.create_registered_model(name)
    assert _code(duplicate) == "RESOURCE_ALREADY_EXISTS"
    other = unique("dup-other")
    mlflow_client.create_registered_model(other)
    with pytest.raises(MlflowException) as clash:
        mlflow_client.rename_registered_model(other, name)
    assert _code(clash) == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize("bad", ["a/b", "a:b", "..", " "])
def test_invalid_model_names_are_invalid_parameter_value(mlflow_client, bad):  # type: ignore[no-untyped-def]
    with pytest.raises(MlflowException) as invalid:
        mlflow_client._get_registry_client().create_registered_model(bad)
    assert _code(invalid) == "INVALID_PARAMETER_VALUE"


def test_unknown_model_operations_are_resource_does_not_exist(mlflow_client):  # type: ignore[no-untyped-def]
    name = unique("nobody")
    for call in (
        lambda: mlflow_client.update_registered_model(name, description="x"),
        lambda: mlflow_client.delete_registered_model(name),
        lambda: mlflow_client.set_registered_model_tag(name, "k", "v"),
        lambda: mlflow_client.get_latest_versions(name),
        lambda: mlflow_client.set_registered_model_alias(name, "champion", 1),
    ):
        with pytest.raises(MlflowException) as missing:
            call()
        assert _code(missing) == "RESOURCE_DOES_NOT_EXIST"


def test_tags_set_overwrite_delete(mlflow_client):  # type: ignore[no-untyped-def]
    name = unique("tags")
    mlflow_client.create_registered_model(name, tags={"a": "1"})
    mlflow_client.set_registered_model_tag(name, "a", "2")
    mlflow_client.set_registered_model_tag(name, "b", "x" * 50_000)  # registry tags allow long values
    assert mlflow_client.get_registered_model(name).tags == {"a": "2", "b": "x" * 50_000}
    mlflow_client.delete_registered_model_tag(name, "a")
    mlflow_client.delete_registered_model_tag(name, "never-set")  # as in MLflow: no error
    assert mlflow_client.get_registered_model(name).tags == {"b": "x" * 50_000}
    with pytest.raises(MlflowException) as reserved:
        mlflow_client.set_registered_model_tag(name, "runyard.content_digest", "forged")
    assert _code(reserved) == "INVALID_PARAMETER_VALUE"


def test_search_filter_grammar(mlflow_client):  # type: ignore[no-untyped-def]
    prefix = unique("grammar")
    mlflow_client.create_registered_model(f"{prefix}-Alpha", tags={"stage": "prod"})
    mlflow_client.create_registered_model(f"{prefix}-beta", tags={"stage": "dev", "team": "fraud"})
    mlflow_client.create_registered_model(f"{prefix}-gamma", tags={"stage": "prod", "team": "fraud"})

    def names(filter_string: str) -> list[str]:
        found = mlflow_client.search_registered_models(filter_string=filter_string, max_results=100)
        return sorted(m.name.removeprefix(prefix + "-") for m in found)

    assert names(f"name = '{prefix}-beta'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%'") == ["Alpha", "beta", "gamma"]
    assert names(f"name LIKE '{prefix}-a%'") == []  # LIKE is case-sensitive, as in MLflow
    assert names(f"name ILIKE '{prefix}-a%'") == ["Alpha"]
    assert names(f"name LIKE '{prefix}-%' AND tags.stage = 'prod'") == ["Alpha", "gamma"]
    assert names(f"name LIKE '{prefix}-%' AND tags.`team` = 'fraud' AND tags.stage != 'prod'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%' AND tags.stage LIKE 'pr%'") == ["Alpha", "gamma"]
    assert names(f"name != '{prefix}-beta' AND name LIKE '{prefix}%'") == ["Alpha", "gamma"]

    for bad in ("name = unquoted", "version_number = 1", "tags.stage > 'a'", "name = 'a' OR (", "foo.bar = 'x'"):
        with pytest.raises(MlflowException) as invalid:
            mlflow_client.search_registered_models(filter_string=bad)
        assert _code(invalid) == "INVALID_PARAMETER_VALUE", bad


def test_search_order_by_and_paging(mlflow_client):  # type: ignore[no-untyped-def]
    prefix = unique("paging")
    created = [f"{prefix}-{index}" for index in range(7)]
    for name in created:
        mlflow_client.create_registered_model(name)
    seen: list[str] = []
    token = None
    while True:
        page = mlflow_client.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", max_results=3, order_by=["name DESC"], page_token=token
        )
        seen.extend(model.name for model in page)
        token = page.token
        if not token:
            break
    assert seen == sorted(created, reverse=True)

    newest_first = mlflow_client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["timestamp DESC"]
    )
    assert [m.name for m in newest_first][0] == created[-1]
    for bad in (["version_number"], ["name DESC", "name ASC"], ["name sideways"]):
        with pytest.raises(MlflowException) as invalid:
            mlflow_client.search_registered_models(order_by=bad)
        assert _code(invalid) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as too_many:
        mlflow_client.search_registered_models(max_results=100_000)
    assert _code(too_many) == "INVALID_PARAMETER_VALUE"


def test_prompts_are_left_out_of_model_search(mlflow_client):  # type: ignore[no-untyped-def]
    prefix = unique("prompt")
    mlflow_client.create_registered_model(f"{prefix}-model")
    mlflow_client.create_registered_model(f"{prefix}-prompt")
    mlflow_client.set_registered_model_tag(f"{prefix}-prompt", "mlflow.prompt.is_prompt", "true")
    models = mlflow_client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in models] == [f"{prefix}-model"]
    prompts = mlflow_client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%' AND tags.`mlflow.prompt.is_prompt` = 'true'"
    )
    assert [m.name for m in prompts] == [f"{prefix}-prompt"]


def test_aliases_set_move_get_delete(mlflow_client):  # type: ignore[no-untyped-def]
    first = new_version(mlflow_client)
    name = first.name
    second = new_version(mlflow_client, name)
    assert (first.version, second.version) == ("1", "2")

    mlflow_client.set_registered_model_alias(name, "champion", 1)
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "1"
    mlflow_client.set_registered_model_alias(name, "champion", 2)  # moves it
    by_alias = mlflow_client.get_model_version_by_alias(name, "champion")
    assert by_alias.version == "2"
    assert by_alias.aliases == ["champion"]
    assert mlflow_client.get_registered_model(name).aliases == {"champion": "2"}
    assert mlflow_client.get_model_version_by_alias(name, "latest").version == "2"

    mlflow_client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as unknown:
        mlflow_client.get_model_version_by_alias(name, "champion")
    assert _code(unknown) == "INVALID_PARAMETER_VALUE"  # MLflow's code for an unknown alias


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v3", "V10", "bad alias", "a/b", "x" * 256])
def test_invalid_alias_names(mlflow_client, alias):  # type: ignore[no-untyped-def]
    version = new_version(mlflow_client)
    with pytest.raises(MlflowException) as invalid:
        mlflow_client.set_registered_model_alias(version.name, alias, 1)
    assert _code(invalid) == "INVALID_PARAMETER_VALUE"


def test_alias_to_unknown_version(mlflow_client):  # type: ignore[no-untyped-def]
    version = new_version(mlflow_client)
    with pytest.raises(MlflowException) as missing:
        mlflow_client.set_registered_model_alias(version.name, "champion", 42)
    assert _code(missing) == "RESOURCE_DOES_NOT_EXIST"


def test_rename_keeps_versions_and_aliases(mlflow_client):  # type: ignore[no-untyped-def]
    version = new_version(mlflow_client)
    mlflow_client.set_registered_model_alias(version.name, "prod", 1)
    new_name = version.name + "-v2"
    mlflow_client.rename_registered_model(version.name, new_name)
    moved = mlflow_client.get_model_version_by_alias(new_name, "prod")
    assert (moved.name, moved.version, moved.status) == (new_name, "1", "READY")
    assert mlflow_client.get_model_version_download_uri(new_name, 1) == mlflow_client.get_model_version_download_uri(
        new_name, "1"
    )
