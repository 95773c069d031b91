"""MLflow's limits and naming rules for logged data, with MLflow's messages.

The ``mlflow`` client validates some of this itself; the server must enforce all of it, because other
clients (and raw HTTP) do not.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Sequence
from typing import Any

from runyard.domain.tracking import Metric, Param, Tag
from runyard.errors import InvalidParameter, LimitExceeded

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_DATASET_SOURCE_TYPE_SIZE = 36
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
# int64 bounds: larger steps/timestamps would overflow the BIGINT columns.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_NAME_PATTERN = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    formatted = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if message:
        return f"Invalid value {formatted} for parameter '{path}' supplied: {message}"
    return f"Invalid value {formatted} for parameter '{path}' supplied."


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _bad_character_message() -> str:
    return (
        "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
        " spaces ( ), colon(:) and slashes (/)."
    )


def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def validate_name(name: str | None, path: str, kind: str) -> str:
    """Check a metric, param or tag key: allowed characters and no path tricks."""
    if name is None or name == "":
        raise InvalidParameter(f"Missing value for required parameter '{path}'.")
    if not _NAME_PATTERN.match(name):
        raise InvalidParameter(invalid_value(path, name, _bad_character_message()))
    if _path_not_unique(name):
        raise InvalidParameter(
            invalid_value(
                path,
                name,
                "Names may be treated as files in certain cases, and must not resolve to other names"
                f" when treated as such. This name would resolve to {posixpath.normpath(name)!r}",
            )
        )
    check_length(f"{kind} name" if kind == "Metric" else f"{kind} key", MAX_ENTITY_KEY_LENGTH, name)
    return name


def check_length(entity: str, limit: int, value: str | None) -> None:
    if value is not None and len(value) > limit:
        raise LimitExceeded(f"'{entity}' exceeds the maximum length of {limit} characters")


def check_int64(path: str, value: int) -> None:
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidParameter(invalid_value(path, value, "must be a 64-bit integer"))


def validate_metric(metric: Metric, path: str = "") -> None:
    validate_name(metric.key, _join(path, "key"), "Metric")
    if metric.timestamp < 0:
        raise InvalidParameter(
            invalid_value(
                _join(path, "timestamp"),
                metric.timestamp,
                f"metric '{metric.key}' (value={metric.value}). Timestamp must be a nonnegative long (64-bit integer) ",
            )
        )
    check_int64(_join(path, "timestamp"), metric.timestamp)
    check_int64(_join(path, "step"), metric.step)


def validate_param(param: Param, path: str = "") -> None:
    validate_name(param.key, _join(path, "key"), "Param")
    check_length("Param value", MAX_PARAM_VAL_LENGTH, param.value)


def validate_tag(tag: Tag, path: str = "") -> None:
    validate_name(tag.key, _join(path, "key"), "Tag")
    check_length(_join(path, "value") or "value", MAX_TAG_VAL_LENGTH, tag.value)


def validate_experiment_tag(tag: Tag) -> None:
    validate_name(tag.key, "key", "Tag")
    check_length("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, tag.key)
    check_length("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, tag.value)


def validate_experiment_name(name: str | None) -> str:
    if not name:  # MLflow's create handler: ``_assert_required`` on the name
        raise InvalidParameter("Missing value for required parameter 'name'.")
    if not name.strip():
        raise InvalidParameter(f"Invalid experiment name: '{name}'. Experiment name must be a non-empty string.")
    check_length("name", MAX_EXPERIMENT_NAME_LENGTH, name)
    return name


def validate_run_id(run_id: str, path: str = "run_id") -> str:
    if not run_id or _RUN_ID_PATTERN.match(run_id) is None:
        raise InvalidParameter(invalid_value(path, run_id))
    return run_id


def parse_experiment_id(experiment_id: str | int | None, path: str = "experiment_id") -> int:
    if experiment_id is None or experiment_id == "":
        raise InvalidParameter(f"Missing value for required parameter '{path}'.")
    try:
        value = int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    if not 0 <= value < 2**31:
        raise InvalidParameter(f"Invalid experiment ID '{experiment_id}'. Experiment ID is out of range.")
    return value


def validate_batch_limits(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[Tag]) -> None:
    for name, limit, length in (
        ("metrics", MAX_METRICS_PER_BATCH, len(metrics)),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, len(params)),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags)),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, len(metrics) + len(params) + len(tags)),
    ):
        if length > limit:
            raise LimitExceeded(
                f"A batch logging request can contain at most {limit} {name}. "
                f"Got {length} {name}. Please split up {name} across multiple"
                " requests and try again."
            )


def validate_metrics(metrics: Sequence[Metric]) -> None:
    """``validate_metric`` for every point, checking each distinct key once (batches repeat a few keys)."""
    checked: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric.key not in checked:
            validate_name(metric.key, f"metrics[{index}].key", "Metric")
            checked.add(metric.key)
        if not (0 <= metric.timestamp <= INT64_MAX and INT64_MIN <= metric.step <= INT64_MAX):
            validate_metric(metric, f"metrics[{index}]")


def validate_batch(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[Tag]) -> None:
    """All of MLflow's log-batch checks: counts, keys, lengths, duplicate param keys."""
    validate_batch_limits(metrics, params, tags)
    validate_metrics(metrics)
    for index, param in enumerate(params):
        validate_param(param, f"params[{index}]")
    for index, tag in enumerate(tags):
        validate_tag(tag, f"tags[{index}]")
    seen: set[str] = set()
    duplicates = [p.key for p in params if p.key in seen or seen.add(p.key)]  # type: ignore[func-returns-value]
    if duplicates:
        raise InvalidParameter(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure "
            "the request contains only one param value per param key."
        )


def metric_storage_value(value: float) -> tuple[float, bool]:
    """How a metric value is stored: NaN as ``(0.0, True)``; infinities clamp like MLflow's store."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (1.7976931348623157e308 if value > 0 else -1.7976931348623157e308), False
    return value, False
