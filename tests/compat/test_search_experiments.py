"""search-experiments returns the same experiments in the same order as MLflow, on every backend.

As for runs, the reference is MLflow's own ``SqlAlchemyStore`` on a temporary SQLite file driven
in-process by the real ``mlflow`` client; runyard is a live server. Both get the same experiments
(created in the same order, a few milliseconds apart, so creation and update times order alike);
names carry a per-store prefix that every filter pins, because the runyard server is shared with
other tests.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.support.servers import LiveServer

# (suffix, tags); created in this order
EXPERIMENTS = [
    ("alpha", {"team": "vision", "stage": "Prod"}),
    ("Beta", {"team": "nlp"}),
    ("gamma", {"team": "Vision", "with space": "x"}),
    ("delta", {}),
    ("eps", {"team": "vision"}),
    ("zeta-old", {"team": ""}),
]

FILTERS = [
    "", "name = '{p}alpha'", "name != '{p}alpha'", "name LIKE '{p}%a'", "name ILIKE '{p}b%'",
    "name LIKE '{p}b%'", "attribute.name LIKE '{p}_eta'",
    "tags.team = 'vision'", "tags.team != 'vision'", "tags.team LIKE 'v%'", "tags.team ILIKE 'V%'",
    "tags.team = ''", "tags.team IS NULL", "tags.team IS NOT NULL", "tag.`with space` = 'x'",
    "tags.stage = 'Prod' AND tags.team = 'vision'", "experiment_id = '{id:Beta}'",
    "experiment_id != '{id:Beta}'", "experiment_id IN ('{id:alpha}', '{id:gamma}')",
    "experiment_id NOT IN ('{id:alpha}')", "creation_time >= {ct:gamma}", "creation_time < {ct:gamma}",
    "creation_time = {ct:delta}", "last_update_time > {ct:alpha}", "last_update_time <= {ct:Beta}",
]  # fmt: skip

ORDERS = [
    [], ["name"], ["name DESC"], ["creation_time"], ["creation_time DESC"], ["experiment_id"],
    ["experiment_id DESC"], ["last_update_time DESC"], ["attribute.name ASC"], ["last_update_time", "name"],
]  # fmt: skip


@dataclass
class Store:
    client: MlflowClient
    prefix: str
    ids: dict[str, str]
    created: dict[str, int]

    def fill(self, text: str) -> str:
        text = text.replace("{p}", self.prefix)
        text = re.sub(r"\{id:([\w-]+)\}", lambda m: self.ids[m.group(1)], text)
        return re.sub(r"\{ct:([\w-]+)\}", lambda m: str(self.created[m.group(1)]), text)

    def search(
        self,
        filter_string: str = "",
        order_by: list[str] | None = None,
        *,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        pinned = f"name LIKE '{self.prefix}%'" + (f" AND {self.fill(filter_string)}" if filter_string else "")
        found = self.client.search_experiments(
            view_type=view_type,
            max_results=max_results,
            filter_string=pinned,
            order_by=order_by,
            page_token=page_token,
        )
        token = found.token.decode() if isinstance(found.token, bytes) else found.token
        return [e.name.removeprefix(self.prefix) for e in found], token


def _populate(client: MlflowClient, artifact_root: Path | None) -> Store:
    prefix = f"se{uuid.uuid4().hex[:8]}-"
    ids: dict[str, str] = {}
    for suffix, tags in EXPERIMENTS:
        location = None if artifact_root is None else (artifact_root / suffix).as_uri()
        ids[suffix] = client.create_experiment(prefix + suffix, artifact_location=location, tags=tags)
        time.sleep(0.005)  # distinct creation times
    client.rename_experiment(ids["zeta-old"], prefix + "zeta")
    ids["zeta"] = ids["zeta-old"]
    time.sleep(0.005)
    client.delete_experiment(ids["eps"])
    created = {suffix: int(client.get_experiment(ids[suffix]).creation_time) for suffix in ids}
    return Store(client, prefix, ids, created)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("mlflow-experiments")
    return _populate(MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}"), root / "artifacts")


_STORES: dict[str, Store] = {}


@pytest.fixture
def runyard(server: LiveServer, mlflow_client: MlflowClient) -> Iterator[Store]:
    if server.url not in _STORES:
        _STORES[server.url] = _populate(mlflow_client, None)
    yield _STORES[server.url]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_matches_mlflow(reference: Store, runyard: Store, filter_string: str) -> None:
    assert runyard.search(filter_string)[0] == reference.search(filter_string)[0]


@pytest.mark.parametrize("order_by", ORDERS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("view_type", [ViewType.ACTIVE_ONLY, ViewType.ALL])
def test_order_matches_mlflow(reference: Store, runyard: Store, order_by: list[str], view_type: int) -> None:
    expected = reference.search("", order_by, view_type=view_type)[0]
    assert runyard.search("", order_by, view_type=view_type)[0] == expected


def test_deleted_only_matches_mlflow(reference: Store, runyard: Store) -> None:
    expected = reference.search("tags.team = 'vision'", view_type=ViewType.DELETED_ONLY)[0]
    assert expected == ["eps"]
    assert runyard.search("tags.team = 'vision'", view_type=ViewType.DELETED_ONLY)[0] == expected


@pytest.mark.parametrize("order_by", [[], ["name DESC"]])
def test_pages_match_mlflow(reference: Store, runyard: Store, order_by: list[str]) -> None:
    def pages(store: Store) -> list[list[str]]:
        result: list[list[str]] = []
        token: str | None = None
        while True:
            names, token = store.search("", order_by, max_results=2, page_token=token, view_type=ViewType.ALL)
            result.append(names)
            if not token:
                return result

    expected = pages(reference)
    assert pages(runyard) == expected
    assert len(expected) == 3


def test_or_and_parentheses_extension(reference: Store, runyard: Store) -> None:
    """MLflow cannot run OR; runyard's answer equals the union of MLflow's answers for each side."""
    left, right = "tags.team = 'nlp'", "name LIKE '{p}%a' AND tags.team IS NULL"
    wanted = set(reference.search(left)[0]) | set(reference.search(right)[0])
    expected = [name for name in reference.search("", ["name"])[0] if name in wanted]
    assert expected == ["Beta", "delta"]
    assert runyard.search(f"({left}) OR ({right})", ["name"])[0] == expected


def test_attributes_prefix_is_accepted_for_experiments(runyard: Store) -> None:
    """MLflow accepts ``attribute.`` here but only ``attributes.`` for runs; runyard takes both everywhere."""
    assert runyard.search("attributes.name = '{p}zeta'")[0] == ["zeta"]


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("foo.name = 'x'", "Invalid entity type 'foo'"),
        ("attribute.owner = 'x'", "Invalid attribute key 'owner' specified"),
        ("name IN ('a')", "Only ['experiment_id'] attributes support comparison with a list"),
        ("name > 'a'", "Invalid comparator"),
        ("creation_time > 'x'", "Expected numeric value type for numeric attribute: creation_time"),
        ("creation_time > 1.5", "Invalid value for numeric attribute 'creation_time'"),
        ("experiment_id LIKE '1%'", "Invalid comparator for experiment_id"),
        ("name IS NULL", "IS NULL / IS NOT NULL is only supported for tags"),
        ("tags.team > 'a'", "Invalid comparator '>'"),
        ("name = 'x' AND", "Invalid clause"),
    ],
)
def test_invalid_filter_is_rejected_like_mlflow(
    reference: Store, runyard: Store, filter_string: str, message: str
) -> None:
    if not filter_string.endswith("AND"):  # MLflow tolerates a dangling AND; runyard refuses it
        with pytest.raises(MlflowException) as mlflow_error:
            reference.client.search_experiments(filter_string=filter_string)
        assert mlflow_error.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        runyard.client.search_experiments(filter_string=filter_string)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"order_by": "tags.team"}, "Invalid order_by entity: tag"),
        ({"order_by": "name SIDEWAYS"}, "Invalid ordering key"),
        ({"max_results": "50001"}, "It must be at most 50000"),
        ({"filter": "name = 'a' OR"}, "Invalid clause"),
        ({"page_token": "%%%"}, "Invalid page token"),
    ],
)
def test_bad_get_requests_are_400(server: LiveServer, params: dict[str, str], message: str) -> None:
    response = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/search", params=params, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]
