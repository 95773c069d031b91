"""Registered scorers (MLflow 3's ``mlflow.genai.scorers``): versioned serialized judges of an experiment.

runyard stores a scorer's serialized form and hands it back; it never reconstructs or runs one. It
still refuses what MLflow's server refuses by default: a scorer carrying ``call_source`` (a
``@scorer``-decorated function, whose code every client that loads the scorer would execute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runyard.errors import InvalidParameter

CUSTOM_SCORER_REFUSED = (
    "Custom scorer registration (using @scorer decorator) is disabled by default "
    "outside of Databricks tracking environments due to security concerns. "
    "Custom scorers require arbitrary code execution during deserialization.\n\n"
    "To use custom scorers:\n"
    "1. Manage your custom scorer code in a source code repository (e.g., GitHub) and import it directly, or\n"
    "2. Use built-in scorers or make_judge() scorers instead."
)
NAME_LENGTH = 256
MAX_SERIALIZED_LENGTH = 1024 * 1024
GATEWAY_PREFIX = "gateway:/"


@dataclass(frozen=True, slots=True)
class ScorerVersion:
    scorer_id: str
    experiment_id: str
    scorer_name: str
    scorer_version: int
    serialized_scorer: str
    creation_time: int


@dataclass(frozen=True, slots=True)
class OnlineScoringConfig:
    online_scoring_config_id: str
    scorer_id: str
    experiment_id: str
    sample_rate: float
    filter_string: str | None


def validate_name(name: str | None) -> str:
    if name is None or name == "":
        raise InvalidParameter("Missing value for required parameter 'name'.")
    if not name.strip():
        raise InvalidParameter("Scorer name cannot be empty or contain only whitespace.")
    if len(name) > NAME_LENGTH:
        raise InvalidParameter(f"Scorer name exceeds the maximum length of {NAME_LENGTH} characters.")
    return name


def _has_call_source(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("call_source") is not None or any(_has_call_source(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_call_source(item) for item in value)
    return False


def parse_serialized(serialized_scorer: str | None) -> dict[str, Any]:
    """The serialized scorer as a JSON object, refused when it is not one or carries custom code."""
    if serialized_scorer is None or serialized_scorer == "":
        raise InvalidParameter("Missing value for required parameter 'serialized_scorer'.")
    if len(serialized_scorer) > MAX_SERIALIZED_LENGTH:
        raise InvalidParameter(f"serialized_scorer exceeds the maximum length of {MAX_SERIALIZED_LENGTH} characters")
    try:
        data = json.loads(serialized_scorer)
    except ValueError:
        raise InvalidParameter("serialized_scorer must be valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidParameter("serialized_scorer must be a JSON object")
    if _has_call_source(data):
        raise InvalidParameter(CUSTOM_SCORER_REFUSED)
    return data


def model_of(data: dict[str, Any]) -> str | None:
    """The judge model a serialized scorer names (the places MLflow's scorer kinds keep it)."""
    for key in ("instructions_judge_pydantic_data", "builtin_scorer_pydantic_data", "third_party_scorer_data"):
        section = data.get(key)
        if isinstance(section, dict):
            model = section.get("model")
            return model if isinstance(model, str) else None
    memory = data.get("memory_augmented_judge_data")
    if isinstance(memory, dict) and isinstance(memory.get("base_judge"), dict):
        return model_of(memory["base_judge"])
    return None


def validate_sample_rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"sample_rate must be a number, got {type(value).__name__}")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise InvalidParameter(f"sample_rate must be between 0.0 and 1.0, got {value}")
    return rate
