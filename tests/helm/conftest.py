"""Fixtures for the Helm chart tests: real helm engines, cached renders, Kubernetes schema validation."""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
import pytest
import yaml
from referencing import Registry, Resource

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO_ROOT / "deploy" / "helm"
ENGINES = ("helm4", "helm3")
PRIMARY = "helm4"
# Kubernetes 1.28 (the charts' minimum) and the newest version kubernetes-validate ships schemas for.
KUBE_VERSIONS = ("1.28.0", kv.latest_version())
NEWEST = KUBE_VERSIONS[-1]
RELEASE = "rel"
NAMESPACE = "ml"

Manifest = dict[str, Any]


@functools.cache
def load_script(name: str) -> ModuleType:
    """Import a file of scripts/ as a module (scripts/ is not a package)."""
    path = REPO_ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"runyard_scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@functools.cache
def helm_binary(engine: str) -> Path:
    """The pinned helm binary, fetched on first use (a file lock keeps parallel workers from racing).

    A failure is an error, never a skip: the tests must run with a real Helm engine, in CI and locally.
    """
    fetch_helm = load_script("fetch_helm")
    lock_path = REPO_ROOT / ".tools" / ".fetch-helm.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            path: Path = fetch_helm.fetch(fetch_helm.PINS[engine])
        except fetch_helm.FetchError as exc:
            pytest.fail(f"cannot obtain {engine}: {exc}", pytrace=False)
    return path


@dataclass(frozen=True)
class Render:
    """The outcome of one `helm template` run."""

    returncode: int
    stdout: str
    stderr: str

    @functools.cached_property
    def manifests(self) -> list[Manifest]:
        assert self.returncode == 0, self.stderr
        return [doc for doc in yaml.safe_load_all(self.stdout) if doc]


def scenario_path(chart: str, scenario: str) -> Path:
    return CHARTS_DIR / chart / "ci" / f"{scenario}-values.yaml"


def scenarios(chart: str) -> list[str]:
    return sorted(p.name.removesuffix("-values.yaml") for p in (CHARTS_DIR / chart / "ci").glob("*-values.yaml"))


def _values_args(values: tuple[Path, ...], sets: tuple[str, ...]) -> list[str]:
    args: list[str] = []
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


@functools.cache
def helm_template(
    chart: str,
    values: tuple[Path, ...] = (),
    sets: tuple[str, ...] = (),
    *,
    engine: str = PRIMARY,
    kube_version: str = NEWEST,
) -> Render:
    """`helm template` of a chart (cached per worker: the same render serves many assertions)."""
    command = [
        str(helm_binary(engine)), "template", RELEASE, str(CHARTS_DIR / chart),
        "--namespace", NAMESPACE, "--kube-version", kube_version, *_values_args(values, sets),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    return Render(result.returncode, result.stdout, result.stderr)


@functools.cache
def helm_notes(chart: str, values: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> str:
    """The rendered NOTES.txt (Helm 4's client-side dry-run install needs no cluster)."""
    command = [
        str(helm_binary("helm4")), "install", RELEASE, str(CHARTS_DIR / chart), "--dry-run=client",
        "--namespace", NAMESPACE, *_values_args(values, sets),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\nNOTES:\n", 1)[1]


def helm_lint(chart: str, values: tuple[Path, ...], engine: str) -> subprocess.CompletedProcess[str]:
    command = [str(helm_binary(engine)), "lint", "--strict", str(CHARTS_DIR / chart), *_values_args(values, ())]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


@functools.cache
def _schema_validator(schema_dir: str, kind_file: str) -> jsonschema.Draft202012Validator:
    """A validator for one kind, as kubernetes_validate.validate builds it, loaded once per worker."""
    base = kv.importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema" / schema_dir
    schema = json.loads((base / kind_file).read_text())
    definitions = json.loads((base / "_definitions.json").read_text())
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_manifest(manifest: Manifest, kube_version: str) -> None:
    """Validate one manifest against the strict Kubernetes JSON schema of that version.

    The same schema files and lookup as ``kubernetes_validate.validate(..., strict=True)``; validators are
    cached because loading the 1.8 MB definitions for every manifest would dominate the test time.
    """
    wanted = kv.major_minor(kube_version)
    version = [v for v in kv.all_versions() if kv.Version(kv.major_minor(v)) <= kv.Version(wanted)][-1]
    api = manifest["apiVersion"]
    # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1 (as kubernetes_validate does)
    api_part = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api)
    kind_file = f"{manifest['kind'].lower()}-{api_part}.json"
    schema_dir = f"v{version}-local-strict"
    base = kv.importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema" / schema_dir
    if not (base / kind_file).is_file():
        pytest.fail(f"no Kubernetes {wanted} schema for {manifest['kind']} {api}: not a built-in kind?")
    errors = sorted(_schema_validator(schema_dir, kind_file).iter_errors(manifest), key=str)
    if errors:
        name = manifest.get("metadata", {}).get("name")
        details = "\n".join(f"  {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
        pytest.fail(f"{manifest['kind']}/{name} is invalid for Kubernetes {wanted}:\n{details}")


@dataclass
class Chart:
    """Rendered manifests of one scenario, with finders for the assertions."""

    manifests: list[Manifest]

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        found = [m for m in self.all(kind) if m["metadata"]["name"] == name]
        assert found, f"no {kind}/{name}; have {[m['metadata']['name'] for m in self.all(kind)]}"
        return found[0]

    def names(self, kind: str) -> list[str]:
        return [m["metadata"]["name"] for m in self.all(kind)]

    def component(self, kind: str, component: str) -> list[Manifest]:
        return [
            m for m in self.all(kind) if m["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]


def container(workload: Manifest, name: str | None = None) -> dict[str, Any]:
    """A container of a Deployment/StatefulSet/DaemonSet/Job/Pod (the first one by default)."""
    spec = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = spec["containers"]
    if name is None:
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def env_of(workload: Manifest, name: str | None = None) -> dict[str, dict[str, Any]]:
    """The env entries of a container, by variable name."""
    return {e["name"]: e for e in container(workload, name).get("env", [])}


@pytest.fixture(scope="session")
def render() -> Callable[..., Chart]:
    """Render a chart scenario (or extra --set values) with the primary engine, newest Kubernetes."""

    def _render(scenario: str = "defaults", *sets: str, chart: str = "runyard") -> Chart:
        result = helm_template(chart, (scenario_path(chart, scenario),), tuple(sets))
        assert result.returncode == 0, result.stderr
        return Chart(result.manifests)

    return _render


@pytest.fixture(scope="session")
def render_error() -> Callable[..., str]:
    """Render a scenario that must fail, returning helm's error output."""

    def _render_error(scenario: str, *sets: str, chart: str = "runyard") -> str:
        result = helm_template(chart, (scenario_path(chart, scenario),), tuple(sets))
        assert result.returncode != 0, f"{scenario} rendered, but it must fail"
        return result.stderr

    return _render_error


@pytest.fixture(scope="session")
def notes() -> Callable[..., str]:
    def _notes(scenario: str = "defaults", *sets: str, chart: str = "runyard") -> str:
        return helm_notes(chart, (scenario_path(chart, scenario),), tuple(sets))

    return _notes


@pytest.fixture(scope="session")
def tmp_values(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[dict[str, Any]], Path]]:
    """Write a values dict to a temporary file (for one-off renders)."""
    directory = tmp_path_factory.mktemp("values")
    counter = iter(range(1_000_000))

    def _write(values: dict[str, Any]) -> Path:
        path = directory / f"values-{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(values))
        return path

    yield _write
