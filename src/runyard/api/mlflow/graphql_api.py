"""``/graphql``: MLflow's GraphQL endpoint (the run page, metric charts and run search of its web UI).

``POST`` takes ``{"query", "variables", "operationName"}`` as JSON; ``GET`` the same as query
parameters. The answer is MLflow's: ``{"data": …, "errors": [message, …] | null}`` with status 200,
also when a field fails (that field is ``null``). Documents are bounded before they run, as MLflow
bounds them: depth, total selections, root fields and aliases per selection set.
"""

from __future__ import annotations

import inspect
from typing import Any

import orjson
from fastapi import APIRouter
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute,
    parse,
    validate,
)
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.mlflow import graphql_schema
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.errors import InvalidParameter

# Jobs read their own run through the UI's queries too; each field checks the resource it names.
router = APIRouter(tags=["mlflow-graphql"], dependencies=[access.job_or_person])

MAX_DEPTH = 10
MAX_SELECTIONS = 1000
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10
MAX_DOCUMENT_CHARS = 100_000


class GraphQLRequest(BaseModel):
    query: str | None = None
    variables: dict[str, Any] | None = None
    operationName: str | None = None


class GraphQLQuery(BaseModel):
    query: str | None = None
    variables: str | None = None  # JSON text of the variables object
    operationName: str | None = None


def _fields_of(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[list[FieldNode], int]:
    """The fields of one selection set, fragments merged in, and how many of them carry an alias."""
    fields: list[FieldNode] = []
    aliases = 0
    pending = list(selection_set.selections)
    seen: set[str] = set()
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            fields.append(selection)
            aliases += selection.alias is not None
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return fields, aliases


def check_bounds(document: DocumentNode) -> str | None:
    """Why ``document`` is too large to run, or None."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    selections = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        stack = [(operation.selection_set, 1)]
        while stack:
            selection_set, depth = stack.pop()
            if depth > MAX_DEPTH:
                return f"Query exceeds maximum depth of {MAX_DEPTH}"
            fields, aliases = _fields_of(selection_set, fragments)
            if depth == 1 and len(fields) > MAX_ROOT_FIELDS:
                return (
                    f"GraphQL queries should have at most {MAX_ROOT_FIELDS} root fields, got {len(fields)} root fields."
                )
            if aliases > MAX_ALIASES:
                return f"GraphQL queries should have at most {MAX_ALIASES} aliases, got {aliases} aliases."
            selections += len(fields)
            if selections > MAX_SELECTIONS:
                return f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
            stack.extend((f.selection_set, depth + 1) for f in fields if f.selection_set is not None)
    return None


def _answer(result: ExecutionResult) -> Response:
    errors = [error.message for error in result.errors] if result.errors else None
    return JSONResponse({"data": result.data, "errors": errors})


async def run_document(request: Request, text: str | None, variables: Any, operation_name: str | None) -> Response:
    if not text or not text.strip():
        raise InvalidParameter("Missing value for required parameter 'query'.")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidParameter(
            f"The GraphQL document is too long ({len(text)} characters; limit {MAX_DOCUMENT_CHARS})."
        )
    if variables is not None and not isinstance(variables, dict):
        raise InvalidParameter("Invalid value for parameter 'variables': expected a JSON object.")
    try:
        document = parse(text)
    except GraphQLError as error:
        return _answer(ExecutionResult(None, [error]))
    refused = check_bounds(document)
    if refused is not None:
        return _answer(ExecutionResult(None, [GraphQLError(refused)]))
    schema = graphql_schema.schema()
    invalid = validate(schema, document)
    if invalid:
        return _answer(ExecutionResult(None, invalid))
    outcome = execute(
        schema,
        document,
        variable_values=variables,
        operation_name=operation_name,
        context_value=graphql_schema.Context(request),
        field_resolver=graphql_schema.read_key,
    )
    result = await outcome if inspect.isawaitable(outcome) else outcome
    return _answer(result)


@router.post("/graphql", openapi_extra=json_body(GraphQLRequest))
async def graphql_post(request: Request) -> Response:
    """Run one GraphQL document against MLflow's schema."""
    body = await parse_json(request, GraphQLRequest)
    return await run_document(request, body.query, body.variables, body.operationName)


@router.get("/graphql", openapi_extra=query(GraphQLQuery))
async def graphql_get(request: Request) -> Response:
    """Run one GraphQL document given as query parameters (``variables`` as JSON text)."""
    given = parse_query(request, GraphQLQuery)
    variables: Any = None
    if given.variables:
        try:
            variables = orjson.loads(given.variables)
        except orjson.JSONDecodeError as error:
            raise InvalidParameter(f"Malformed JSON in parameter 'variables': {error}") from None
    return await run_document(request, given.query, variables, given.operationName)
