#!/usr/bin/env python3
"""Generate (or check) the Helm charts' README parameter tables and ``values.schema.json``.

Both come from the ``## @param`` comments of each chart's ``values.yaml``:

* README tables: bitnami's ``@bitnami/readme-generator-for-helm`` (npm, pinned with an integrity-checked
  lockfile in ``scripts/helm-tools/``), installed into ``.tools/readme-generator`` by ``install``. It
  also refuses a values file with an undocumented value.
* ``values.schema.json`` (draft-07, which Helm enforces on every install, upgrade, lint and template):
  types and defaults from ``values.yaml``, descriptions from ``@param``, and constraints (enums,
  minimums, patterns, item schemas) from ``## @schema <key> <JSON>`` lines. Objects whose children are
  documented one by one are closed (``additionalProperties: false``), so a misspelt value fails the
  render instead of being silently ignored; objects documented as a whole (``[object]``) stay open.

Usage::

    python scripts/helm_docs.py            # regenerate READMEs and schemas of every chart
    python scripts/helm_docs.py --check    # exit 1 when anything is undocumented or out of date
    python scripts/helm_docs.py install    # only install the pinned readme generator
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHARTS = [REPO_ROOT / "deploy" / "helm" / "runyard", REPO_ROOT / "deploy" / "helm" / "runyard-monitoring"]
TOOLS_SOURCE = REPO_ROOT / "scripts" / "helm-tools"
GENERATOR_DIR = REPO_ROOT / ".tools" / "readme-generator"
GENERATOR_BIN = GENERATOR_DIR / "node_modules" / "@bitnami" / "readme-generator-for-helm" / "bin" / "index.js"

PARAM_RE = re.compile(r"^\s*##\s*@param\s+(\S+)\s*(\[[^\]]*\])?\s*(.*)$")
SKIP_RE = re.compile(r"^\s*##\s*@skip\s+(\S+)")
SCHEMA_RE = re.compile(r"^\s*##\s*@schema\s+(\S+)\s+(\{.*\})\s*$")


class DocsError(RuntimeError):
    """The values file, its metadata or the tooling is inconsistent."""


@dataclass
class Param:
    """One ``## @param`` line."""

    key: str
    modifiers: list[str]
    description: str


@dataclass
class Metadata:
    """All metadata comments of one values file."""

    params: dict[str, Param] = field(default_factory=dict)
    skips: set[str] = field(default_factory=set)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_metadata(values_text: str) -> Metadata:
    """Read the ``@param``, ``@skip`` and ``@schema`` comments of a values file."""
    meta = Metadata()
    for number, line in enumerate(values_text.splitlines(), start=1):
        if match := PARAM_RE.match(line):
            key, mods, description = match.groups()
            modifiers = [m.strip() for m in (mods or "[]")[1:-1].split(",") if m.strip()]
            if key in meta.params:
                raise DocsError(f"line {number}: {key} is documented twice")
            meta.params[key] = Param(key, modifiers, description.strip())
        elif match := SKIP_RE.match(line):
            meta.skips.add(match.group(1))
        elif match := SCHEMA_RE.match(line):
            key, fragment = match.groups()
            try:
                meta.schemas[key] = json.loads(fragment)
            except json.JSONDecodeError as exc:
                raise DocsError(f"line {number}: @schema {key} is not valid JSON: {exc}") from exc
    return meta


def value_leaves(values: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves of a values tree, lists of objects indexed as ``key[0].child``."""
    if isinstance(values, dict) and values:
        paths: list[str] = []
        for key, child in values.items():
            paths += value_leaves(child, f"{prefix}.{key}" if prefix else str(key))
        return paths
    if isinstance(values, list) and values and any(isinstance(item, dict) for item in values):
        paths = []
        for index, item in enumerate(values):
            paths += value_leaves(item, f"{prefix}[{index}]")
        return paths
    return [prefix]


def undocumented(values: Any, meta: Metadata) -> list[str]:
    """Values without ``@param`` (a documented ancestor with a modifier covers its children)."""
    covered = {key for key, param in meta.params.items() if param.modifiers} | meta.skips
    missing = []
    for leaf in value_leaves(values):
        if leaf in meta.params:
            continue
        if any(leaf.startswith(f"{key}.") or leaf.startswith(f"{key}[") for key in covered):
            continue
        missing.append(leaf)
    return missing


def documented_but_absent(values: Any, meta: Metadata) -> list[str]:
    """``@param`` keys that do not exist in the values file."""
    leaves = set(value_leaves(values))
    absent = []
    for key in meta.params:
        if key in leaves:
            continue
        if any(leaf.startswith(f"{key}.") or leaf.startswith(f"{key}[") for leaf in leaves):
            continue
        absent.append(key)
    return absent


def _is_resources(path: str) -> bool:
    """Whether a value is (inside) a container ``resources`` block, which stays open to any key."""
    parts = path.split(".")
    return "resources" in parts and parts.index("resources") >= len(parts) - 2


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _leaf_schema(value: Any, param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    kind = _json_type(value)
    for modifier in param.modifiers:
        if modifier in ("array", "object", "string"):
            kind = modifier
    if kind is not None:
        schema["type"] = [kind, "null"] if "nullable" in param.modifiers else kind
    schema["description"] = param.description
    if value is not None:
        schema["default"] = value
    if kind == "array" and isinstance(value, list) and value and _json_type(value[0]) != "object":
        schema["items"] = {"type": _json_type(value[0])}
    return schema


def build_schema(values: dict[str, Any], meta: Metadata, title: str) -> dict[str, Any]:
    """The values.schema.json of a chart (draft-07)."""
    built: dict[str, dict[str, Any]] = {}

    def node(value: Any, path: str) -> dict[str, Any]:
        if path in meta.params:
            schema = _leaf_schema(value, meta.params[path])
        elif isinstance(value, dict):
            schema = {
                "type": "object",
                # Container resources take any resource name (ephemeral-storage, nvidia.com/gpu, …).
                "additionalProperties": _is_resources(path),
                "properties": {key: node(child, f"{path}.{key}" if path else key) for key, child in value.items()},
            }
        elif isinstance(value, list):
            if path not in meta.schemas:
                raise DocsError(f'{path}: a list of objects needs a `## @schema {path} {{"items": …}}` line')
            schema = {"type": "array", "default": value}
        else:
            raise DocsError(f"{path}: no @param")
        if path in meta.schemas:
            schema = _merge(schema, meta.schemas[path])
        built[path] = schema
        return schema

    root = node(values, "")
    _expand_extends(root, built)
    unknown = sorted(set(meta.schemas) - set(built) - {""})
    if unknown:
        raise DocsError(f"@schema for keys that are not values: {', '.join(unknown)}")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        **root,
    }


def _expand_extends(schema: Any, built: dict[str, dict[str, Any]]) -> None:
    """Resolve ``"$extends": "<key>"``: take the properties of another value's object schema."""
    if isinstance(schema, dict):
        source = schema.pop("$extends", None)
        if source is not None:
            if source not in built or "properties" not in built[source]:
                raise DocsError(f"$extends {source}: not an object value")
            inherited = copy.deepcopy(built[source]["properties"])
            for prop in inherited.values():
                prop.pop("default", None)
            schema["properties"] = {**inherited, **schema.get("properties", {})}
        for child in schema.values():
            _expand_extends(child, built)
    elif isinstance(schema, list):
        for child in schema:
            _expand_extends(child, built)


def render_schema(chart: Path) -> str:
    """The values.schema.json text a chart should have."""
    text = (chart / "values.yaml").read_text()
    meta = parse_metadata(text)
    values = yaml.safe_load(text)
    missing = undocumented(values, meta)
    if missing:
        raise DocsError(f"{chart.name}: values without `## @param`: {', '.join(missing)}")
    absent = documented_but_absent(values, meta)
    if absent:
        raise DocsError(f"{chart.name}: `## @param` for values that do not exist: {', '.join(absent)}")
    schema = build_schema(values, meta, f"Values of the {chart.name} Helm chart")
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def install_generator() -> Path:
    """Install the pinned readme generator into .tools/ (``npm ci``: lockfile and integrity hashes).

    A file lock serialises concurrent callers (parallel test workers).
    """
    GENERATOR_DIR.parent.mkdir(parents=True, exist_ok=True)
    with (GENERATOR_DIR.parent / ".readme-generator.lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        return _install_generator()


def _install_generator() -> Path:
    lock = (TOOLS_SOURCE / "package-lock.json").read_bytes()
    marker = GENERATOR_DIR / "package-lock.json"
    if GENERATOR_BIN.is_file() and marker.is_file() and marker.read_bytes() == lock:
        return GENERATOR_BIN
    npm = shutil.which("npm")
    if npm is None:
        raise DocsError("npm is not installed: it is needed for @bitnami/readme-generator-for-helm")
    GENERATOR_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(TOOLS_SOURCE / name, GENERATOR_DIR / name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=GENERATOR_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not GENERATOR_BIN.is_file():
        raise DocsError(f"npm ci in {GENERATOR_DIR} failed:\n{result.stdout}\n{result.stderr}")
    return GENERATOR_BIN


def render_readme(chart: Path) -> str:
    """The README text a chart should have (its tables regenerated from values.yaml)."""
    generator = install_generator()
    node = shutil.which("node")
    if node is None:
        raise DocsError("node is not installed: it is needed for @bitnami/readme-generator-for-helm")
    with tempfile.TemporaryDirectory(prefix="runyard-readme-") as tmp:
        readme = Path(tmp) / "README.md"
        shutil.copyfile(chart / "README.md", readme)
        result = subprocess.run(
            [node, str(generator), "--values", str(chart / "values.yaml"), "--readme", str(readme)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
            raise DocsError(
                f"{chart.name}: readme-generator failed:\n" + "\n".join(errors or [result.stdout, result.stderr])
            )
        return readme.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate or check Helm chart READMEs and values schemas.")
    parser.add_argument("command", nargs="?", choices=["generate", "install"], default="generate")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when anything is out of date")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install_generator())
            return 0
        stale: list[str] = []
        for chart in CHARTS:
            for target, expected in (
                (chart / "values.schema.json", render_schema(chart)),
                (chart / "README.md", render_readme(chart)),
            ):
                current = target.read_text() if target.exists() else ""
                if current == expected:
                    continue
                if args.check:
                    stale.append(str(target.relative_to(REPO_ROOT)))
                else:
                    target.write_text(expected)
                    print(f"updated {target.relative_to(REPO_ROOT)}")
    except DocsError as exc:
        print(f"helm_docs: {exc}", file=sys.stderr)
        return 1
    if stale:
        print("out of date (run `python scripts/helm_docs.py`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
