"""Evaluation datasets through the real ``mlflow`` 3.17.2 client (``mlflow.genai.datasets``), on every backend."""

from __future__ import annotations

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.genai import datasets

from tests.compat.test_auth import as_user, auth_server
from tests.conftest import unique
from tests.support.servers import LiveServer

__all__ = ["as_user", "auth_server"]  # fixtures, used by name


def _own_tags(tags: dict[str, str] | None) -> dict[str, str]:
    return {key: value for key, value in (tags or {}).items() if key != "mlflow.user"}


@pytest.fixture
def experiment_id(mlflow_client: MlflowClient) -> str:
    return str(mlflow_client.create_experiment(unique("eval")))


def test_create_get_and_delete_a_dataset(mlflow_client: MlflowClient, experiment_id: str) -> None:
    name = unique("qa")
    created = datasets.create_dataset(name=name, experiment_id=experiment_id, tags={"team": "ml", "v": "1"})
    assert created.dataset_id.startswith("d-")
    assert created.name == name
    user = created.tags.pop("mlflow.user")  # the client adds who created it
    assert created.tags == {"team": "ml", "v": "1"}
    assert created._mlflow_dataset.created_by == user
    assert created.experiment_ids == [experiment_id]

    by_id = datasets.get_dataset(dataset_id=created.dataset_id)
    by_name = datasets.get_dataset(name=name)
    assert by_id.dataset_id == by_name.dataset_id == created.dataset_id
    assert by_id.digest == created.digest
    assert by_id.created_time == created.created_time

    datasets.delete_dataset(dataset_id=created.dataset_id)
    with pytest.raises(MlflowException, match="not found") as error:
        datasets.get_dataset(dataset_id=created.dataset_id)
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    datasets.delete_dataset(dataset_id=created.dataset_id)  # deleting again is not an error, as in MLflow


def test_merge_records_upserts_by_inputs_and_to_df_reads_them_back(experiment_id: str) -> None:
    dataset = datasets.create_dataset(name=unique("merge"), experiment_id=experiment_id)
    dataset.merge_records(
        [
            {"inputs": {"question": "what is 2+2?"}, "expectations": {"answer": "4"}},
            {"inputs": {"question": "capital of France?"}, "expectations": {"answer": "Paris"}, "tags": {"k": "a"}},
        ]
    )
    # Same inputs again: the record is updated (expectations and tags merged), not duplicated.
    dataset.merge_records(
        [
            {"inputs": {"question": "capital of France?"}, "expectations": {"source": "atlas"}, "tags": {"j": "b"}},
            {"inputs": {"question": "largest ocean?"}, "expectations": {"answer": "Pacific"}},
        ]
    )
    frame = datasets.get_dataset(dataset_id=dataset.dataset_id).to_df()
    assert len(frame) == 3
    rows = {row["inputs"]["question"]: row for row in frame.to_dict("records")}
    assert set(rows) == {"what is 2+2?", "capital of France?", "largest ocean?"}
    assert rows["capital of France?"]["expectations"] == {"answer": "Paris", "source": "atlas"}
    assert {"k": "a", "j": "b"}.items() <= rows["capital of France?"]["tags"].items()
    assert all(str(row["dataset_record_id"]).startswith("dr-") for row in rows.values())
    # The client infers a source for records without one (expectations: HUMAN); it is kept as sent.
    assert rows["largest ocean?"]["source_type"] == "HUMAN"
    assert rows["largest ocean?"]["source"].source_type == "HUMAN"

    refreshed = datasets.get_dataset(dataset_id=dataset.dataset_id)
    assert refreshed.digest != dataset.digest  # every change makes a new digest
    assert '"num_records": 3' in (refreshed.profile or "")
    assert '"question": "string"' in (refreshed.schema or "")


def test_record_sources_keep_their_type_and_id(experiment_id: str) -> None:
    dataset = datasets.create_dataset(name=unique("sources"), experiment_id=experiment_id)
    dataset.merge_records(
        [
            {"inputs": {"q": "a"}, "source": {"source_type": "trace", "source_data": {"trace_id": "tr-123"}}},
            {
                "inputs": {"q": "b"},
                "outputs": "B",
                "source": {"source_type": "DOCUMENT", "source_data": {"source_id": "doc-9"}},
            },
        ]
    )
    rows = {
        row["inputs"]["q"]: row
        for row in datasets.get_dataset(dataset_id=dataset.dataset_id).to_df().to_dict("records")
    }
    assert (rows["a"]["source_type"], rows["a"]["source_id"]) == ("TRACE", "tr-123")
    assert (rows["b"]["source_type"], rows["b"]["source_id"], rows["b"]["outputs"]) == ("DOCUMENT", "doc-9", "B")


def test_records_page_through_the_client(mlflow_client: MlflowClient, experiment_id: str) -> None:
    dataset = datasets.create_dataset(name=unique("paged"), experiment_id=experiment_id)
    dataset.merge_records([{"inputs": {"i": i}} for i in range(7)])
    store = mlflow_client._tracking_client.store
    first, token = store._load_dataset_records(dataset.dataset_id, max_results=3)
    second, token2 = store._load_dataset_records(dataset.dataset_id, max_results=3, page_token=token)
    third, token3 = store._load_dataset_records(dataset.dataset_id, max_results=3, page_token=token2)
    assert [len(first), len(second), len(third)] == [3, 3, 1]
    assert token3 is None
    ids = [r.dataset_record_id for r in first + second + third]
    assert len(set(ids)) == 7
    deleted = dataset.delete_records(ids[:2])
    assert deleted == 2
    assert len(datasets.get_dataset(dataset_id=dataset.dataset_id).to_df()) == 5


def test_search_filters_orders_and_pages(experiment_id: str) -> None:
    prefix = unique("search")
    made = [
        datasets.create_dataset(name=f"{prefix}-{i}", experiment_id=experiment_id, tags={"parity": str(i % 2)})
        for i in range(5)
    ]
    found = datasets.search_datasets(experiment_ids=[experiment_id], order_by=["name ASC"])
    assert [d.name for d in found] == [f"{prefix}-{i}" for i in range(5)]

    odd = datasets.search_datasets(filter_string=f"name LIKE '{prefix}%' AND tags.parity = '1'")
    assert sorted(d.name for d in odd) == [f"{prefix}-1", f"{prefix}-3"]
    newest_first = datasets.search_datasets(filter_string=f"name LIKE '{prefix}%'")
    assert [d.dataset_id for d in newest_first][0] in {d.dataset_id for d in made}
    by_time = datasets.search_datasets(
        filter_string=f"created_time >= {made[2].created_time} AND name LIKE '{prefix}%'"
    )
    assert {d.name for d in by_time} >= {f"{prefix}-2", f"{prefix}-3", f"{prefix}-4"}

    client = MlflowClient()
    page = client.search_datasets(experiment_ids=[experiment_id], max_results=2, order_by=["name DESC"])
    assert [d.name for d in page] == [f"{prefix}-4", f"{prefix}-3"]
    assert page.token
    rest = client.search_datasets(
        experiment_ids=[experiment_id], max_results=10, order_by=["name DESC"], page_token=page.token
    )
    assert [d.name for d in rest] == [f"{prefix}-{i}" for i in (2, 1, 0)]
    assert not rest.token


def test_tags_set_and_delete(experiment_id: str) -> None:
    dataset = datasets.create_dataset(name=unique("tags"), experiment_id=experiment_id, tags={"a": "1"})
    datasets.set_dataset_tags(dataset_id=dataset.dataset_id, tags={"b": "2", "a": "3"})
    assert _own_tags(datasets.get_dataset(dataset_id=dataset.dataset_id).tags) == {"a": "3", "b": "2"}
    datasets.delete_dataset_tag(dataset_id=dataset.dataset_id, key="a")
    datasets.delete_dataset_tag(dataset_id=dataset.dataset_id, key="never-set")
    assert _own_tags(datasets.get_dataset(dataset_id=dataset.dataset_id).tags) == {"b": "2"}


def test_experiment_associations(mlflow_client: MlflowClient, experiment_id: str) -> None:
    other = str(mlflow_client.create_experiment(unique("eval-other")))
    dataset = datasets.create_dataset(name=unique("assoc"), experiment_id=experiment_id)
    added = datasets.add_dataset_to_experiments(dataset_id=dataset.dataset_id, experiment_ids=[other, experiment_id])
    assert sorted(added.experiment_ids) == sorted([experiment_id, other])
    assert [d.dataset_id for d in datasets.search_datasets(experiment_ids=[other])] == [dataset.dataset_id]

    removed = datasets.remove_dataset_from_experiments(dataset_id=dataset.dataset_id, experiment_ids=[experiment_id])
    assert removed.experiment_ids == [other]
    assert mlflow_client._tracking_client.store.get_dataset_experiment_ids(dataset.dataset_id) == [other]
    assert datasets.search_datasets(experiment_ids=[experiment_id]) == []

    with pytest.raises(MlflowException, match="No Experiment with id=987654321") as error:
        datasets.add_dataset_to_experiments(dataset_id=dataset.dataset_id, experiment_ids=["987654321"])
    assert error.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/datasets/create", {}, "Missing value for required parameter 'name'."),
        ("/datasets/create", {"name": "x", "tags": "not json"}, "Invalid value for parameter 'tags'"),
        ("/datasets/create", {"name": 5}, "Invalid value 5 for parameter 'name'"),
        ("/datasets/search", {"filter_string": "colour = 'red'"}, "Invalid attribute key 'colour'"),
        ("/datasets/search", {"filter_string": "created_time > 'yesterday'"}, "Invalid value for numeric attribute"),
        ("/datasets/search", {"order_by": ["tags.a"]}, "Invalid order_by entity"),
        ("/datasets/search", {"max_results": 0}, "max_results"),
        ("/datasets/search", {"page_token": "???"}, "Invalid page token"),
    ],
)
def test_bad_input_is_refused_with_mlflow_error_codes(
    server: LiveServer, path: str, body: dict[str, object], message: str
) -> None:
    response = httpx.post(f"{server.url}/api/3.0/mlflow{path}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_bad_records_are_refused(server: LiveServer, experiment_id: str) -> None:
    dataset = datasets.create_dataset(name=unique("bad"), experiment_id=experiment_id)
    url = f"{server.url}/api/3.0/mlflow/datasets/{dataset.dataset_id}/records"
    for records, message in [
        ("[{]", "not a JSON list"),
        ('[{"expectations": {}}]', "'inputs' must be a non-empty JSON object"),
        ('[{"inputs": {"q": 1}, "source": {"source_type": "ORACLE"}}]', "Invalid dataset record source type"),
    ]:
        response = httpx.post(url, json={"records": records})
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]
    missing = httpx.post(
        f"{server.url}/api/3.0/mlflow/datasets/d-missing/records", json={"records": '[{"inputs": {"q": 1}}]'}
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_access_follows_experiments_and_workspaces(auth_server: LiveServer, as_user) -> None:  # type: ignore[no-untyped-def]
    """A member sees only datasets and scorers of experiments they may read, and nothing of another workspace."""
    from mlflow.server import get_app_client

    from tests.compat.test_auth import ADMIN, ADMIN_PASSWORD

    as_user(ADMIN, ADMIN_PASSWORD)
    admin = MlflowClient(tracking_uri=auth_server.url)
    auth = get_app_client("basic-auth", tracking_uri=auth_server.url)
    member, password = unique("reader"), "reader password long"
    auth.create_user(member, password)
    readable = admin.create_experiment(unique("open"))
    hidden = admin.create_experiment(unique("closed"))
    auth.grant_user_permission(member, "experiment", readable, "READ")
    shown = admin.create_dataset(unique("shown"), experiment_id=readable)
    secret = admin.create_dataset(unique("secret"), experiment_id=hidden)
    shared = admin.create_dataset(unique("shared"), experiment_id=[readable, hidden])
    other_workspace = unique("other")
    admin.create_workspace(other_workspace)
    with httpx.Client(base_url=auth_server.url, auth=(ADMIN, ADMIN_PASSWORD), timeout=30) as http:
        elsewhere = http.post(
            "/api/3.0/mlflow/datasets/create", json={"name": "theirs"}, headers={"X-MLFLOW-WORKSPACE": other_workspace}
        ).json()["dataset"]["dataset_id"]
        scorer = {"experiment_id": hidden, "name": "judge", "serialized_scorer": '{"name": "judge"}'}
        assert http.post("/api/3.0/mlflow/scorers/register", json=scorer).status_code == 200

    as_user(member, password)
    client = MlflowClient(tracking_uri=auth_server.url)
    assert client.get_dataset(shown.dataset_id).name == shown.name
    found = {d.dataset_id for d in client.search_datasets(experiment_ids=[readable])}
    assert found == {shown.dataset_id}  # the dataset shared with an unreadable experiment is left out
    everywhere = {d.dataset_id for d in client.search_datasets()}
    assert shown.dataset_id in everywhere and not {secret.dataset_id, shared.dataset_id, elsewhere} & everywhere
    for dataset_id in (secret.dataset_id, shared.dataset_id):
        with pytest.raises(MlflowException) as refused:
            client.get_dataset(dataset_id)
        assert refused.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as missing:
        client.get_dataset(elsewhere)  # another workspace's dataset does not exist here
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as read_only:
        client.set_dataset_tags(shown.dataset_id, {"mine": "now"})
    assert read_only.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as no_scorers:
        client._tracking_client.store.list_scorers(hidden)
    assert no_scorers.value.error_code == "PERMISSION_DENIED"
