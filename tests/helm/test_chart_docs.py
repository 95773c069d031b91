"""Every chart value is documented; README tables and values.schema.json are generated and up to date."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.conftest import CHARTS_DIR, load_script

CHART_NAMES = ("runyard", "runyard-monitoring")


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_values_schema_is_generated_and_up_to_date(chart: str) -> None:
    docs = load_script("helm_docs")
    expected = docs.render_schema(CHARTS_DIR / chart)
    actual = (CHARTS_DIR / chart / "values.schema.json").read_text()
    assert actual == expected, "values.schema.json is out of date: run `python scripts/helm_docs.py`"


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_readme_tables_are_generated_and_up_to_date(chart: str) -> None:
    docs = load_script("helm_docs")
    expected = docs.render_readme(CHARTS_DIR / chart)
    actual = (CHARTS_DIR / chart / "README.md").read_text()
    assert actual == expected, "README parameter tables are out of date: run `python scripts/helm_docs.py`"


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_every_value_has_a_param_and_a_schema_entry(chart: str) -> None:
    docs = load_script("helm_docs")
    text = (CHARTS_DIR / chart / "values.yaml").read_text()
    meta = docs.parse_metadata(text)
    values = yaml.safe_load(text)
    assert docs.undocumented(values, meta) == []
    assert docs.documented_but_absent(values, meta) == []
    schema = json.loads((CHARTS_DIR / chart / "values.schema.json").read_text())
    for key in meta.params:
        node: dict[str, Any] = schema
        for part in key.split("."):
            name = part.split("[", 1)[0]
            node = node["properties"][name]
            if "[" in part:
                node = node["items"]
        assert node.get("type") or node.get("enum") or node.get("properties"), key


def _copy_chart(tmp_path: Path, chart: str, extra_value: str) -> Path:
    target = tmp_path / chart
    shutil.copytree(CHARTS_DIR / chart, target)
    values = target / "values.yaml"
    values.write_text(values.read_text() + extra_value)
    return target


def test_an_undocumented_value_fails_both_generators(tmp_path: Path) -> None:
    docs = load_script("helm_docs")
    chart = _copy_chart(tmp_path, "runyard", "\nsurpriseKnob: true\n")
    with pytest.raises(docs.DocsError, match="surpriseKnob"):
        docs.render_schema(chart)
    with pytest.raises(docs.DocsError, match="Missing metadata for key: surpriseKnob"):
        docs.render_readme(chart)


def test_schema_constraints_reach_nested_items() -> None:
    schema = json.loads((CHARTS_DIR / "runyard" / "values.schema.json").read_text())
    pool = schema["properties"]["computePools"]["items"]
    assert pool["required"] == ["name"]
    assert pool["additionalProperties"] is False
    assert pool["properties"]["gpusPerReplica"]["minimum"] == 0
    assert "nodeSelector" in pool["properties"] and "shmSize" in pool["properties"]
    assert schema["properties"]["server"]["properties"]["logLevel"]["enum"] == ["debug", "info", "warning", "error"]
    resources = schema["properties"]["server"]["properties"]["resources"]
    assert resources["additionalProperties"] is True, "any resource name is allowed"
