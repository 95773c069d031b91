"""Every CI value scenario renders (or fails as it must) on Helm 4 and Helm 3, for Kubernetes 1.28 and the
newest version the validator knows, passes `helm lint --strict`, and yields manifests that are valid against
the strict Kubernetes JSON schemas."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helm.conftest import (
    CHARTS_DIR,
    ENGINES,
    KUBE_VERSIONS,
    NEWEST,
    helm_lint,
    helm_template,
    scenario_path,
    scenarios,
    validate_manifest,
)
from tests.helm.scenarios import CHARTS

CASES = [(chart, scenario) for chart, table in CHARTS.items() for scenario in table]


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_every_scenario_file_has_an_expectation(chart: str) -> None:
    assert scenarios(chart) == sorted(CHARTS[chart]), f"update tests/helm/scenarios.py for {CHARTS_DIR / chart}/ci"


def test_there_are_enough_scenarios() -> None:
    assert sum(len(table) for table in CHARTS.values()) >= 12
    failing = [s for s, expected in CHARTS["runyard"].items() if expected is not None]
    assert len(failing) >= 6, "each conflicting combination has its own scenario"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("chart", "scenario"), CASES, ids=[f"{c}:{s}" for c, s in CASES])
def test_scenario_renders_or_fails_as_expected(chart: str, scenario: str, engine: str, kube_version: str) -> None:
    expected_failure = CHARTS[chart][scenario]
    result = helm_template(chart, (scenario_path(chart, scenario),), engine=engine, kube_version=kube_version)
    if expected_failure is not None:
        assert result.returncode != 0, f"{scenario} must fail to render"
        for fragment in expected_failure:
            assert fragment in result.stderr, f"{fragment!r} missing from:\n{result.stderr}"
        return
    assert result.returncode == 0, result.stderr
    assert result.manifests, "nothing rendered"
    for manifest in result.manifests:
        validate_manifest(manifest, kube_version)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("chart", "scenario"), CASES, ids=[f"{c}:{s}" for c, s in CASES])
def test_scenario_passes_strict_lint(chart: str, scenario: str, engine: str) -> None:
    result = helm_lint(chart, (scenario_path(chart, scenario),), engine)
    output = result.stdout + result.stderr
    expected_failure = CHARTS[chart][scenario]
    if expected_failure is None:
        assert result.returncode == 0, output
        assert "[WARNING]" not in output and "[ERROR]" not in output, output
    else:
        # Lint renders in "lint mode", where a template's `fail` is reported (level=INFO msg="funcMap fail")
        # rather than fatal; the failure itself is asserted by `helm template` above.
        assert expected_failure[0] in output, output


def _normalise(rendered: str) -> list[object]:
    # The Grafana admin password is generated at render time when none is given; the engines differ
    # only in blank lines between documents, so the parsed documents are compared.
    text = re.sub(r"admin-password: \"[^\"]*\"", "admin-password: <generated>", rendered)
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize(
    ("chart", "scenario"),
    [case for case in CASES if CHARTS[case[0]][case[1]] is None],
    ids=[f"{c}:{s}" for c, s in CASES if CHARTS[c][s] is None],
)
def test_helm3_and_helm4_render_the_same_manifests(chart: str, scenario: str) -> None:
    values = (scenario_path(chart, scenario),)
    helm4 = helm_template(chart, values, engine="helm4", kube_version=NEWEST)
    helm3 = helm_template(chart, values, engine="helm3", kube_version=NEWEST)
    assert helm4.returncode == helm3.returncode == 0
    assert _normalise(helm4.stdout) == _normalise(helm3.stdout)
