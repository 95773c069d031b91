"""Domain values → MLflow REST JSON (the shapes of MLflow's protobuf messages)."""

from __future__ import annotations

from typing import Any

from runyard.api.responses import json_double
from runyard.domain.tracking import Experiment, Metric, Run, RunInfo, Tag


def tags_json(tags: list[Tag]) -> list[dict[str, str]]:
    return [{"key": tag.key, "value": tag.value} for tag in tags]


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
    }
    if experiment.creation_time is not None:
        data["creation_time"] = experiment.creation_time
    if experiment.last_update_time is not None:
        data["last_update_time"] = experiment.last_update_time
    if experiment.tags:
        data["tags"] = tags_json(experiment.tags)
    return data


def run_info_json(info: RunInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.start_time is not None:
        data["start_time"] = info.start_time
    if info.end_time is not None:
        data["end_time"] = info.end_time
    return data


def metric_json(metric: Metric) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": metric.key,
        "value": json_double(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    if metric.run_id is not None:
        data["run_id"] = metric.run_id
    return data


def run_json(run: Run) -> dict[str, Any]:
    data: dict[str, Any] = {
        "info": run_info_json(run.info),
        "data": {
            "metrics": [metric_json(m) for m in run.metrics],
            "params": [{"key": p.key, "value": p.value} for p in run.params],
            "tags": tags_json(run.tags),
        },
        "inputs": {
            "dataset_inputs": [
                {
                    "tags": tags_json(item.tags),
                    "dataset": {
                        key: value
                        for key, value in (
                            ("name", item.dataset.name),
                            ("digest", item.dataset.digest),
                            ("source_type", item.dataset.source_type),
                            ("source", item.dataset.source),
                            ("schema", item.dataset.schema),
                            ("profile", item.dataset.profile),
                        )
                        if value is not None
                    },
                }
                for item in run.dataset_inputs
            ],
            "model_inputs": [{"model_id": link.model_id} for link in run.model_inputs],
        },
        "outputs": {"model_outputs": [{"model_id": link.model_id, "step": link.step} for link in run.model_outputs]},
    }
    return data
