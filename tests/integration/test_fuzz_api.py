"""Every documented operation, fuzzed from the server's own OpenAPI document: no input answers 5xx.

Schemathesis generates valid and invalid bodies, query strings and path parameters for each
operation of ``/openapi.json`` (the ``/api/…`` spelling; ``/ajax-api/…`` is the same routes again)
and sends them to a live server on SQLite. A 5xx for any of them is a bug: bad input must be a
400-class answer that says what is wrong. The run is bounded (``FUZZ_EXAMPLES`` per operation).

The document itself is checked first: every operation declares its path parameters, and every
operation that reads a body declares it, so the fuzzing reaches what the routes really parse.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.servers import LiveServer

FUZZ_EXAMPLES = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "8"))
# Long polls and streams, which would only make the fuzzer wait: asked without waiting.
NO_WAIT = {"wait_seconds": 0, "follow": False}
# Operations that read no body: they take nothing but their path and query parameters.
BODYLESS = re.compile(
    r"^(GET|HEAD) |^DELETE /api/2\.0/mlflow/logged-models/|^DELETE /api/2\.0/mlflow-artifacts/artifacts/"
    r"|^DELETE /api/v1/pools/|^POST /api/v1/jobs/\{job_id\}/(cancel|retry)$"
    r"|^POST /api/v1/workers/\{worker_id\}/deregister$|/_registry"
    r"|^DELETE /api/v1/tokens/|^POST /api/v1/auth/logout$|^DELETE /api/3\.0/mlflow/workspaces/"
    r"|^DELETE /api/2\.0/mlflow/webhooks/"
    r"|^DELETE /api/3\.0/mlflow/datasets/\{dataset_id\}(/tags/\{key\})?$"
)


@pytest.fixture(scope="module")
def fuzz_server(server_pool) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A server of its own: the fuzzer creates, renames and deletes whatever it likes."""
    yield server_pool.start_new("sqlite")


@pytest.fixture(scope="module")
def openapi_document(fuzz_server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{fuzz_server.url}/openapi.json", timeout=30)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def test_every_operation_declares_its_path_parameters_and_body(openapi_document: dict[str, Any]) -> None:
    undeclared: list[str] = []
    bodyless: list[str] = []
    operations = 0
    for path, item in openapi_document["paths"].items():
        for method, operation in item.items():
            operations += 1
            label = f"{method.upper()} {path}"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            undeclared += [f"{label}: {{{name}}}" for name in re.findall(r"{(\w+)}", path) if name not in declared]
            if "requestBody" not in operation and not BODYLESS.search(label.replace(" /ajax-api/", " /api/")):
                bodyless.append(label)
    assert operations > 150
    assert not undeclared, f"path parameters not declared: {undeclared}"
    assert not bodyless, f"operations that read a body without declaring it: {bodyless}"


# Recipe bundles are pushed as application/gzip: fuzzed like any other binary body.
schemathesis.serializer.alias("application/gzip", "application/octet-stream")


def _operations(fuzz_server: LiveServer) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/ajax-api/"):
            operations.append(operation)
    return operations


def _without_waits(case: schemathesis.Case) -> None:
    for container in (case.query, case.body):
        if isinstance(container, dict):
            for key, value in NO_WAIT.items():
                if key in container:
                    container[key] = value


def _fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, base_url: str, statuses: Counter[int]
) -> str | None:
    """The first 5xx (or hang) that generated input gets from the operation, described; ``None`` if none."""
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        # Reproducible by default; RUNYARD_FUZZ_RANDOM=1 explores new inputs on every run.
        derandomize=os.environ.get("RUNYARD_FUZZ_RANDOM") != "1",
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        _without_waits(case)
        try:
            response = case.call(base_url=base_url, timeout=30)
        except requests.RequestException as error:
            found.append(f"{case.method} {case.formatted_path}: {error!r} query={case.query!r} body={case.body!r}")
            raise
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            found.append(
                f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:300]} "
                f"query={case.query!r} body={str(case.body)[:300]}"
            )
            raise AssertionError(found[-1])

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to make invalid (an operation without parameters, in negative mode)
    except Exception:
        if not found:
            raise
    return found[0] if found else None


@pytest.mark.timeout(900)  # about 3 minutes on a quiet machine; room for a loaded one
def test_no_input_answers_a_server_error(fuzz_server: LiveServer) -> None:
    operations = _operations(fuzz_server)
    assert len(operations) > 80
    failures = []
    accepted: set[str] = set()
    statuses: Counter[int] = Counter()
    for operation in operations:
        # Invalid input for a body or a query string; path parameters are strings whatever is sent, and
        # making them "invalid" only costs the generator rejected draws.
        takes_input = len(operation.body) > 0 or len(operation.query) > 0
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,)
        for mode in modes:
            before = sum(count for status, count in statuses.items() if status < 300)
            failure = _fuzz(operation, mode, fuzz_server.url, statuses)
            if failure:
                failures.append(f"[{mode.value}] {failure}")
            if sum(count for status, count in statuses.items() if status < 300) > before:
                accepted.add(operation.label)
    assert not failures, "server errors:\n" + "\n".join(failures)
    # The input reaches the handlers, not only their validation: many operations were also answered 2xx.
    assert len(accepted) >= 20, (sorted(accepted), statuses)
    print(f"fuzzed {len(operations)} operations: {sum(statuses.values())} requests, statuses {dict(statuses)}")
