"""search-runs returns the same runs in the same order as MLflow, on every database backend.

The reference is MLflow itself: its ``SqlAlchemyStore`` on a temporary SQLite file, driven in-process
by the real ``mlflow`` client; runyard is a live server driven by the same client over HTTP. Both
hold the dataset of ``tests/support/search_data.py``; every case below runs against both and the run
names must be identical, order included. The OR / parentheses extension (which MLflow refuses) is
checked against set algebra over MLflow's own answers for the parts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.support.search_data import T0, Logged, log_dataset
from tests.support.servers import LiveServer

S = T0 // 1000  # start_time of the run with offset n is (S + n) * 1000

FILTERS = [
    # metrics: latest value, every numeric operator, NaN / inf / negative / quoted keys
    "metrics.acc > 0.5", "metrics.acc >= 0.8", "metrics.acc < 0.8", "metrics.acc <= 0.8",
    "metrics.acc = 0.8", "metrics.acc != 0.8", "metrics.acc = 1", "metrics.acc > -2", "metrics.acc = 0",
    "metrics.acc > 1e300", "metrics.acc < -0.5", "metrics.loss != 0.3", "metrics.loss < 1",
    "metrics.loss >= 0", "metric.acc > 0.5", "metrics.`my metric` = 5", 'metrics."my metric" >= 4.5',
    "metrics.acc >= .9", "metrics.missing > 0", "metrics.acc > 0.5 and metrics.loss < 0.25",
    # params: string comparisons, case-sensitive LIKE, ILIKE, NULL tests
    "params.lr = '0.1'", "params.lr != '0.1'", "params.opt LIKE 'a%'", "params.opt ILIKE 'a%'",
    "params.opt LIKE '%a_a%'", "params.opt = 'Adam'", "params.opt LIKE 'ADAM'", "params.opt ILIKE 'ADAM'",
    "params.lr IS NULL", "params.lr IS NOT NULL", "params.opt is null", 'params.opt = "adam"',
    "param.layers = '10'", "parameter.layers != '9'", "params.lr LIKE '%e%'", "params.opt LIKE 'a_am'",
    # tags, including MLflow's system tags and keys that need quoting
    "tags.team = 'vision'", "tags.team != 'vision'", "tags.team = ''", "tags.team LIKE 'vision%'",
    "tags.team ILIKE 'vision'", "tags.stage LIKE 'a%'", "tags.stage ILIKE 'a%'", "tags.stage IS NULL",
    "tags.stage IS NOT NULL", "tags.`with space` = 'yes'", "tags.mlflow.runName = 'r01'",
    "tags.`mlflow.runName` LIKE 'r0%'", "tags.mlflow.user = 'alice'",
    "tags.weird LIKE 'a*b[1]?'", "tags.weird LIKE 'a*%'", "tags.weird LIKE '%[1]_'", "tags.weird ILIKE 'A*B[1]?'",
    "tags.weird LIKE 'ab%'", "tags.`ünï` = 'Ça va'", "tags.`ünï` LIKE 'Ç%'",
    "tags.Team = 'vision'", "tags.team LIKE 'vision_'",
    "tags.team != 'vision '",
    # attributes, with MLflow's aliases
    "attributes.status = 'FINISHED'", "status != 'RUNNING'", "attributes.status LIKE 'F%'",
    "attributes.status ILIKE 'f%'", "attributes.user_id = 'alice'", "attributes.user_id ILIKE 'alice'",
    "attributes.user_id != 'alice'", "attributes.run_name = 'r03'", "attributes.run_name LIKE 'r0%'",
    "attributes.run_name = 'renamed-10'", "run_name = 'r10'", "\"run name\" = 'r02'",
    "attributes.`Run Name` ILIKE 'R0%'", f"attributes.start_time > {(S + 5) * 1000}",
    f"attributes.created >= {(S + 9) * 1000}", f"Created < {(S + 3) * 1000}",
    f"attributes.end_time > {(S + 6) * 1000}", f"attributes.end_time <= {(S + 6) * 1000}",
    f"attributes.start_time = {(S + 2) * 1000}", f"attributes.start_time != {(S + 2) * 1000}",
    "attributes.run_id IN {ids:r01,r03}", "attributes.run_id NOT IN {ids:r01}",
    "attributes.run_id = {id:r02}", "attributes.run_id != {id:r02}", "attributes.artifact_uri LIKE '%artifacts'",
    "attr.status = 'KILLED'", "run.status = 'FAILED'", "attributes.status != 'KILLED'",
    # datasets: name, digest, context
    "datasets.name = 'train_ds'", "datasets.name IN ('train_ds', 'eval_ds')", "datasets.name NOT IN ('train_ds')",
    "datasets.digest = 'd2'", "datasets.context = 'train'", "datasets.context LIKE 'train%'",
    "datasets.context ILIKE 'TRAIN%'", "datasets.name LIKE '%ds'", "dataset.name != 'eval_ds'",
    "datasets.digest IN ('d1', 'd3')", "datasets.context NOT IN ('eval')", "datasets.name ILIKE 'train_ds'",
    # several clauses at once, keyword case
    "metrics.acc >= 0.8 AND params.opt = 'adam' AND tags.team = 'vision'",
    "params.lr = '0.1' and attributes.status = 'FINISHED' and datasets.name = 'train_ds'",
    "metrics.acc > 0 AND params.lr IS NOT NULL AND tags.stage IS NULL",
    "attributes.user_id = 'bob' AND metrics.`my metric` < 5",
]  # fmt: skip

ORDERS = [
    [], ["metrics.acc"], ["metrics.acc DESC"], ["metrics.acc ASC"], ["metrics.loss desc"], ["metrics.loss"],
    ["params.lr"], ["params.lr DESC"], ["params.layers"], ["tags.team"], ["tags.team DESC"],
    ["attributes.start_time"], ["start_time DESC"], ["attributes.end_time"], ["attributes.end_time DESC"],
    ["attributes.run_name"], ["attributes.run_name DESC"], ["attributes.status", "metrics.acc DESC"],
    ["attributes.user_id"], ["created"], ["Created DESC"], ["metrics.`my metric`"], ["tags.`mlflow.runName` DESC"],
    ["params.opt", "params.lr DESC"], ["tags.stage DESC", "metrics.loss"], ["metrics.missing"],
    ["params.opt DESC", "attributes.start_time ASC"],
]  # fmt: skip

FILTERED_ORDERS = [
    ("metrics.acc > 0", ["metrics.acc DESC"]),
    ("params.lr IS NOT NULL", ["params.lr"]),
    ("tags.team LIKE 'vision%'", ["attributes.end_time DESC"]),
    ("params.opt ILIKE 'a%'", ["metrics.loss", "attributes.user_id DESC"]),
    ("datasets.name = 'eval_ds'", ["metrics.acc"]),
    # Order keys that the filter requires (runyard joins them instead of sorting missing values).
    ("metrics.loss != 0.3", ["metrics.loss"]),
    ("metrics.loss != 0.3", ["metrics.loss DESC"]),
    ("metrics.acc < 0.9 AND metrics.acc >= 0", ["metrics.acc DESC"]),
    ("metrics.acc > 0 AND params.lr != '0.1'", ["params.lr DESC", "metrics.acc"]),
    ("metrics.loss < 1 AND params.lr IS NOT NULL", ["metrics.loss", "params.lr DESC"]),
    ("metrics.`my metric` < 5 AND tags.team != 'x'", ["tags.team", "metrics.`my metric` DESC"]),
    ("params.opt IS NULL", ["params.opt"]),
]

# Filters that must be refused (400 INVALID_PARAMETER_VALUE) by MLflow and runyard alike.
INVALID_FILTERS = [
    ("metrics.acc > 1 OR", "Invalid clause"),
    ("metrics.acc >", "Invalid clause"),
    ("metrics.acc", "Invalid clause"),
    ("foo.bar = 'x'", "Invalid entity type 'foo'"),
    ("attributes.foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are"),
    ("datasets.foo = 'x'", "Invalid dataset key 'foo'"),
    ("metrics.acc = '1'", "Expected numeric value type for metric"),
    ("params.lr = 0.1", "Expected a quoted string value for parameter"),
    ("attributes.status = RUNNING", "not quoted"),
    ("attributes.status IN ('a', 'b')", "Only ['run_id'] attributes support comparison with a list"),
    ("metrics.acc IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params"),
    ("params.lr > '1'", "Invalid comparator '>'"),
    ("attributes.end_time = 'x'", "Expected numeric value type for numeric attribute: end_time"),
    ("attributes.run_id IN ()", "non-empty list"),
    ("attributes.run_id IN (1, 2)", "list"),
    ("params.lr = 'x", "Invalid"),
    ("params.a = 'x' ; params.b = 'y'", ""),
    ("metrics.a-b > 1", ""),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """MLflow's own SQL store on SQLite, in-process, holding the dataset."""
    root: Path = tmp_path_factory.mktemp("mlflow-reference")
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    return log_dataset(client, lambda key: (root / "artifacts" / key).as_uri())


_LOGGED: dict[str, Logged] = {}


@pytest.fixture
def runyard(server: LiveServer, mlflow_client: MlflowClient) -> Iterator[Logged]:
    """The same dataset on the live runyard server of this backend (logged once per server)."""
    if server.url not in _LOGGED:
        _LOGGED[server.url] = log_dataset(mlflow_client, lambda _key: None)
    logged = _LOGGED[server.url]
    logged.client = mlflow_client
    yield logged


def _both(reference: Logged, runyard: Logged, *args: object, **kwargs: object) -> tuple[list[str], list[str]]:
    expected, _ = reference.search(*args, **kwargs)  # type: ignore[arg-type]
    actual, _ = runyard.search(*args, **kwargs)  # type: ignore[arg-type]
    return expected, actual


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_matches_mlflow(reference: Logged, runyard: Logged, filter_string: str) -> None:
    expected, actual = _both(reference, runyard, filter_string)
    assert actual == expected


@pytest.mark.parametrize("order_by", ORDERS, ids=lambda o: ",".join(o) or "default")
def test_order_matches_mlflow(reference: Logged, runyard: Logged, order_by: list[str]) -> None:
    expected, actual = _both(reference, runyard, "", order_by)
    assert actual == expected


@pytest.mark.parametrize(("filter_string", "order_by"), FILTERED_ORDERS)
def test_filter_with_order_matches_mlflow(
    reference: Logged, runyard: Logged, filter_string: str, order_by: list[str]
) -> None:
    expected, actual = _both(reference, runyard, filter_string, order_by)
    assert actual == expected


@pytest.mark.parametrize("view_type", [ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL])
@pytest.mark.parametrize("filter_string", ["", "tags.team = 'vision'", "metrics.acc > 0.5"])
def test_view_types_across_experiments_match_mlflow(
    reference: Logged, runyard: Logged, view_type: int, filter_string: str
) -> None:
    expected, actual = _both(
        reference, runyard, filter_string, ["metrics.acc DESC"], experiments=("a", "b"), view_type=view_type
    )
    assert actual == expected


@pytest.mark.parametrize("order_by", [[], ["metrics.acc DESC"], ["params.lr"], ["attributes.run_name DESC"]])
def test_pages_match_mlflow(reference: Logged, runyard: Logged, order_by: list[str]) -> None:
    def pages(logged: Logged) -> list[list[str]]:
        result: list[list[str]] = []
        token: str | None = None
        while True:
            names, token = logged.search("", order_by, max_results=4, page_token=token, view_type=ViewType.ALL)
            result.append(names)
            if not token:
                return result

    expected = pages(reference)
    assert pages(runyard) == expected
    assert sum(len(page) for page in expected) == 12


def test_page_token_is_mlflows_offset_token(runyard: Logged) -> None:
    _, token = runyard.search("", max_results=5)
    assert token is not None
    assert json.loads(base64.b64decode(token)) == {"offset": 5}


ACC_HI, SGD, NLP, BETA, NEGATIVE = (
    "metrics.acc > 0.85",
    "params.opt = 'sgd'",
    "tags.team = 'nlp'",
    "tags.stage = 'Beta'",
    "metrics.acc < 0",
)
LR, ADAM, ACC_08 = "params.lr = '0.1'", "params.opt = 'adam'", "metrics.acc >= 0.8"
EVAL, KILLED, STAGED = "datasets.name = 'eval_ds'", "attributes.status = 'KILLED'", "tags.stage IS NOT NULL"
IDS, R05 = "attributes.run_id IN {ids:r01,r02}", "attributes.run_name = 'r05'"
# (filter, the AND-only parts whose union it means, each a list of clauses MLflow can run)
OR_CASES = [
    (f"{ACC_HI} OR {SGD}", [[ACC_HI], [SGD]]),
    (f"{NLP} or {BETA} OR {NEGATIVE}", [[NLP], [BETA], [NEGATIVE]]),
    (f"({LR} OR {ADAM}) AND {ACC_08}", [[LR, ACC_08], [ADAM, ACC_08]]),
    (f"{LR} OR {ADAM} AND {ACC_08}", [[LR], [ADAM, ACC_08]]),  # AND binds tighter than OR
    (f"(({EVAL}) OR ({KILLED} AND {STAGED}))", [[EVAL], [KILLED, STAGED]]),
    (f"{IDS} OR {R05}", [[IDS], [R05]]),
]


@pytest.mark.parametrize(("filter_string", "parts"), OR_CASES)
def test_or_and_parentheses_extension(
    reference: Logged, runyard: Logged, filter_string: str, parts: list[list[str]]
) -> None:
    """``A OR B`` returns MLflow's runs for A and for B together, in MLflow's order for the whole set."""
    order_by = ["metrics.acc DESC", "params.lr"]
    wanted: set[str] = set()
    for conjunction in parts:
        names, _ = reference.search(" AND ".join(conjunction))
        wanted |= set(names)
    everything, _ = reference.search("", order_by)
    expected = [name for name in everything if name in wanted]
    actual, _ = runyard.search(filter_string, order_by)
    assert actual == expected
    assert expected  # every case selects something


@pytest.mark.parametrize(("filter_string", "message"), INVALID_FILTERS)
def test_invalid_filter_is_rejected_like_mlflow(
    reference: Logged, runyard: Logged, filter_string: str, message: str
) -> None:
    with pytest.raises(MlflowException) as mlflow_error:
        reference.search(filter_string)
    assert mlflow_error.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        runyard.search(filter_string)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filter": "metrics.acc >> 1"}, "Invalid"),
        ({"filter": "(metrics.acc > 1"}, "expected ')'"),
        ({"filter": "metrics.acc > 1)"}, "expected AND, OR or the end of the filter"),
        ({"filter": "metrics.acc LIKE '1%'"}, "Invalid comparator 'LIKE'"),
        ({"order_by": ["metrics.acc DOWN"]}, "Invalid ordering key in order_by clause"),
        ({"order_by": ["datasets.name"]}, "Invalid order_by entity type 'dataset'"),
        ({"order_by": ["metrics.acc", "metrics.acc DESC"]}, "duplicate fields"),
        ({"order_by": ["attributes.nope"]}, "Invalid attribute key 'nope'"),
        ({"max_results": 50001}, "It must be at most 50000"),
        ({"max_results": 0}, "max_results"),
        ({"page_token": "not-a-token"}, "Invalid page token"),
        ({"filter": "(" * 60 + "metrics.acc > 1" + ")" * 60}, "nest deeper"),
    ],
)
def test_bad_requests_are_400_with_a_precise_message(server: LiveServer, body: dict[str, object], message: str) -> None:
    response = httpx.post(
        f"{server.url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"], **body}, timeout=30
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_backslash_escapes_a_like_wildcard(runyard: Logged) -> None:
    """``\\_`` matches a literal underscore on every backend (as MLflow on PostgreSQL and MySQL does;
    MLflow on SQLite has no LIKE escape character — see docs/search.md)."""
    assert runyard.search("tags.team LIKE '%\\_x'")[0] == ["r11"]
    assert runyard.search("params.opt LIKE 'a\\_am'")[0] == ["r12"]
    assert runyard.search("params.opt LIKE '_dam'")[0] == ["r06", "r02", "r01"]
    assert runyard.search("params.opt LIKE '\\_dam'")[0] == []


def test_max_results_at_the_limit_is_accepted(runyard: Logged) -> None:
    names, token = runyard.search("", max_results=50000)
    assert len(names) == 11
    assert token is None


def test_fluent_search_runs_dataframe_matches_mlflow(reference: Logged, runyard: Logged) -> None:
    """``mlflow.search_runs`` (the pandas API, which pages through the client) sees the same rows."""
    import mlflow

    def names(logged: Logged, tracking_uri: str) -> list[str]:
        mlflow.set_tracking_uri(tracking_uri)
        frame = mlflow.search_runs(
            experiment_ids=[logged.experiments["a"], logged.experiments["b"]],
            filter_string="metrics.acc >= 0 AND params.lr IS NOT NULL",
            order_by=["params.lr DESC", "metrics.acc"],
        )
        return list(frame["tags.mlflow.runName"])

    expected = names(reference, reference.client.tracking_uri)
    assert expected
    assert names(runyard, runyard.client.tracking_uri) == expected
