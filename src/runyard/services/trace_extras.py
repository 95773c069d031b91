"""Trace calls beside the core API: prompts linked to a trace, and where a trace's attachments live."""

from __future__ import annotations

import json
import posixpath
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection

from runyard.domain.traces import ARTIFACT_LOCATION_TAG
from runyard.errors import InvalidParameter
from runyard.services import artifacts as artifact_service
from runyard.services import traces as trace_service

LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
MAX_LINKED_PROMPTS = 100


class PromptVersionRef(NamedTuple):
    name: str
    version: str


def link_prompts(connection: Connection, trace_id: str | None, versions: Sequence[PromptVersionRef]) -> None:
    """Add ``versions`` to the trace's ``mlflow.linkedPrompts`` tag (MLflow's format; each version once)."""
    if not trace_id:
        raise InvalidParameter("Missing value for required parameter 'trace_id'.")
    if not versions:
        raise InvalidParameter("Missing value for required parameter 'prompt_versions'.")
    if len(versions) > MAX_LINKED_PROMPTS:
        raise InvalidParameter(f"Cannot link more than {MAX_LINKED_PROMPTS} prompt versions to a trace at once.")
    for index, ref in enumerate(versions):
        if not ref.name or not ref.version:
            raise InvalidParameter(f"prompt_versions[{index}] must have a name and a version.")
        if not ref.version.isdigit():
            raise InvalidParameter(f"Invalid value {ref.version!r} for prompt_versions[{index}].version: not a number.")
    info = trace_service.get_trace_info(connection, trace_id)
    current = info.tags.get(LINKED_PROMPTS_TAG)
    try:
        linked = json.loads(current) if current else []
    except ValueError:
        linked = []  # a malformed tag (set by hand) is replaced rather than refused
    if not isinstance(linked, list):
        linked = []
    changed = False
    for ref in versions:
        entry = {"name": ref.name, "version": str(int(ref.version))}
        if entry not in linked:
            linked.append(entry)
            changed = True
    if changed:
        trace_service.set_trace_tag(connection, info.trace_id, LINKED_PROMPTS_TAG, json.dumps(linked))


def attachment_path(connection: Connection, trace_id: str | None, path: str | None) -> str:
    """The artifact-store path of one of a trace's attachments (``attachments/<path>`` of its location)."""
    if not path:
        raise InvalidParameter("Missing value for required parameter 'path'.")
    try:
        canonical = str(uuid.UUID(path)) == path
    except ValueError:
        canonical = False
    if not canonical:
        raise InvalidParameter(f"Invalid attachment path: '{path}'. Attachment path must be a valid UUID.")
    info = trace_service.get_trace_info(connection, trace_id)
    location = info.tags.get(ARTIFACT_LOCATION_TAG)
    if not location:
        raise InvalidParameter(f"Trace '{info.trace_id}' has no artifact location, so it has no attachments.")
    return artifact_service.run_file_path(location, posixpath.join("attachments", path))
