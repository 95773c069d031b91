"""``/api/3.0/mlflow/datasets``: MLflow's evaluation dataset API (datasets, tags, experiments, records).

A dataset follows the experiments it is associated with: reading needs READ on them, changing EDIT
(one associated with none belongs to its workspace's members). Tags, schema, profile and records
travel as JSON text inside the JSON body, as in MLflow's protos.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.eval_datasets import DatasetRecord, EvalDataset
from runyard.domain.identity import Level
from runyard.services import eval_datasets as service

router = APIRouter(prefix="/datasets", tags=["mlflow-datasets"])

READ = [access.requires("experiment", Level.READ)]
EDIT = [access.requires("experiment", Level.EDIT)]
# A search shows only datasets whose experiments the caller may all read, whatever experiments it names.
LISTING = [access.requires("experiment", Level.READ, listing=True)]


class DatasetCreate(BaseModel):
    name: str | None = None
    experiment_ids: list[str] = Field(default_factory=list)
    tags: str | None = None


class DatasetSearch(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)
    filter_string: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class TagsSet(BaseModel):
    tags: str | None = None


class RecordsUpsert(BaseModel):
    records: str | None = None


class RecordsQuery(BaseModel):
    max_results: int | None = None
    page_token: str | None = None


class RecordsDelete(BaseModel):
    dataset_record_ids: list[str] = Field(default_factory=list)


class ExperimentsChange(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)


def dataset_json(dataset: EvalDataset) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset_id": dataset.dataset_id,
        "name": dataset.name,
        "tags": json.dumps(dataset.tags),
        "digest": dataset.digest,
        "created_time": dataset.created_time,
        "last_update_time": dataset.last_update_time,
        "experiment_ids": dataset.experiment_ids,
    }
    optional = {
        "schema": dataset.schema,
        "profile": dataset.profile,
        "created_by": dataset.created_by,
        "last_updated_by": dataset.last_updated_by,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def record_json(record: DatasetRecord) -> dict[str, Any]:
    """A record as MLflow's ``DatasetRecord.to_dict`` writes it (inside the ``records`` JSON text)."""
    body: dict[str, Any] = {
        "dataset_record_id": record.dataset_record_id,
        "dataset_id": record.dataset_id,
        "inputs": record.inputs,
        "tags": record.tags or {},
        "created_time": record.created_time,
        "last_update_time": record.last_update_time,
    }
    source_type = record.source_type
    if source_type == "SOURCE_TYPE_UNSPECIFIED":
        source_type = "UNSPECIFIED"
    optional = {
        "outputs": record.outputs,
        "expectations": record.expectations,
        "source": record.source,
        "source_id": record.source_id,
        "source_type": source_type,
        "created_by": record.created_by,
        "last_updated_by": record.last_updated_by,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


async def _search_body(request: Request) -> DatasetSearch:
    if request.method == "GET":
        return parse_query(request, DatasetSearch)
    return await parse_json(request, DatasetSearch)


@router.post("/create", dependencies=EDIT, openapi_extra=json_body(DatasetCreate))
async def create_dataset(request: Request) -> Response:
    """Create a dataset, optionally associated with experiments and tagged."""
    body = await parse_json(request, DatasetCreate)
    dataset = await platform_of(request).write(
        lambda c: service.create_dataset(c, body.name, experiment_ids=body.experiment_ids, tags_json=body.tags)
    )
    return JSONResponse({"dataset": dataset_json(dataset)})


# Declared before ``/{dataset_id}`` so ``search`` is never taken for an id.
@router.get("/search", dependencies=LISTING, openapi_extra=query(DatasetSearch))
@router.post("/search", dependencies=LISTING, openapi_extra=json_body(DatasetSearch))
async def search_datasets(request: Request) -> Response:
    """Search the workspace's datasets (MLflow's dataset filter grammar, order_by, paging)."""
    body = await _search_body(request)
    readable = access.readable_of(request)
    page = await platform_of(request).read(
        lambda c: service.search_datasets(
            c,
            experiment_ids=body.experiment_ids,
            filter_string=body.filter_string,
            max_results=body.max_results,
            order_by=body.order_by,
            page_token=body.page_token,
            readable=readable,
        )
    )
    response: dict[str, Any] = {"datasets": [dataset_json(d) for d in page.items]}
    if page.next_page_token:
        response["next_page_token"] = page.next_page_token
    return JSONResponse(response)


@router.get("/{dataset_id}", dependencies=READ)
async def get_dataset(request: Request, dataset_id: str) -> Response:
    """One dataset (without its records)."""
    dataset = await platform_of(request).read(lambda c: service.get_dataset(c, dataset_id))
    return JSONResponse({"dataset": dataset_json(dataset)})


@router.delete("/{dataset_id}", dependencies=EDIT)
async def delete_dataset(request: Request, dataset_id: str) -> Response:
    """Delete a dataset and its records."""
    await platform_of(request).write(lambda c: service.delete_dataset(c, dataset_id))
    return JSONResponse({})


@router.patch("/{dataset_id}/tags", dependencies=EDIT, openapi_extra=json_body(TagsSet))
async def set_dataset_tags(request: Request, dataset_id: str) -> Response:
    """Set tags (a JSON object in ``tags``), merged into the existing ones."""
    body = await parse_json(request, TagsSet)
    await platform_of(request).write(lambda c: service.set_tags(c, dataset_id, body.tags))
    return JSONResponse({})


@router.delete("/{dataset_id}/tags/{key:path}", dependencies=EDIT)
async def delete_dataset_tag(request: Request, dataset_id: str, key: str) -> Response:
    """Remove one tag."""
    await platform_of(request).write(lambda c: service.delete_tag(c, dataset_id, key))
    return JSONResponse({})


@router.post("/{dataset_id}/records", dependencies=EDIT, openapi_extra=json_body(RecordsUpsert))
async def upsert_dataset_records(request: Request, dataset_id: str) -> Response:
    """Merge records (a JSON list in ``records``) by their inputs."""
    body = await parse_json(request, RecordsUpsert)
    result = await platform_of(request).write(lambda c: service.upsert_records(c, dataset_id, body.records))
    return JSONResponse({"inserted_count": result.inserted, "updated_count": result.updated})


@router.get("/{dataset_id}/records", dependencies=READ, openapi_extra=query(RecordsQuery))
async def get_dataset_records(request: Request, dataset_id: str) -> Response:
    """One page of records, oldest first."""
    body = parse_query(request, RecordsQuery)
    records, token = await platform_of(request).read(
        lambda c: service.get_records(c, dataset_id, max_results=body.max_results, page_token=body.page_token)
    )
    response: dict[str, Any] = {"records": json.dumps([record_json(r) for r in records])}
    if token:
        response["next_page_token"] = token
    return JSONResponse(response)


@router.delete("/{dataset_id}/records", dependencies=EDIT, openapi_extra=json_body(RecordsDelete))
async def delete_dataset_records(request: Request, dataset_id: str) -> Response:
    """Delete records by id."""
    body = await parse_json(request, RecordsDelete)
    deleted = await platform_of(request).write(lambda c: service.delete_records(c, dataset_id, body.dataset_record_ids))
    return JSONResponse({"deleted_count": deleted})


@router.get("/{dataset_id}/experiment-ids", dependencies=READ)
async def get_dataset_experiment_ids(request: Request, dataset_id: str) -> Response:
    """The experiments a dataset is associated with."""
    ids = await platform_of(request).read(lambda c: service.experiment_ids(c, dataset_id))
    return JSONResponse({"experiment_ids": ids})


@router.post("/{dataset_id}/add-experiments", dependencies=EDIT, openapi_extra=json_body(ExperimentsChange))
async def add_dataset_to_experiments(request: Request, dataset_id: str) -> Response:
    """Associate a dataset with more experiments (EDIT is needed on those too)."""
    body = await parse_json(request, ExperimentsChange)
    dataset = await platform_of(request).write(lambda c: service.add_experiments(c, dataset_id, body.experiment_ids))
    return JSONResponse({"dataset": dataset_json(dataset)})


@router.post("/{dataset_id}/remove-experiments", dependencies=EDIT, openapi_extra=json_body(ExperimentsChange))
async def remove_dataset_from_experiments(request: Request, dataset_id: str) -> Response:
    """Remove associations with experiments."""
    body = await parse_json(request, ExperimentsChange)
    dataset = await platform_of(request).write(lambda c: service.remove_experiments(c, dataset_id, body.experiment_ids))
    return JSONResponse({"dataset": dataset_json(dataset)})
