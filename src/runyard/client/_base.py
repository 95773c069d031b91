"""The SDK's HTTP core: one httpx client, auth header, and error bodies turned back into domain errors."""

from __future__ import annotations

from typing import Any

import httpx

from runyard.domain.workspaces import WORKSPACE_HEADER
from runyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    RunyardError,
    Unauthenticated,
    Unavailable,
)

_ERRORS_BY_CODE: dict[str, type[RunyardError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "INVALID_PARAMETER_VALUE": InvalidParameter,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "RESOURCE_CONFLICT": Conflict,
    "TEMPORARILY_UNAVAILABLE": Unavailable,
}

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the domain error a runyard error body describes (or ``RunyardError`` for others)."""
    if response.is_success:
        return
    try:
        body = response.json()
        code = str(body.get("error_code", "INTERNAL_ERROR"))
        message = str(body.get("message", response.text))
    except ValueError:
        code, message = "INTERNAL_ERROR", f"HTTP {response.status_code}: {response.text[:500]}"
    if response.status_code >= 500 and code == "INTERNAL_ERROR" and response.status_code in (502, 503, 504):
        code = "TEMPORARILY_UNAVAILABLE"
    error_class = _ERRORS_BY_CODE.get(code, RunyardError)
    raise error_class(message, error_code=code)


class BaseClient:
    """Holds the connection to one runyard server; resource mixins add the methods."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        authorization: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        workspace: str | None = None,
    ) -> None:
        headers = {"User-Agent": "runyard-client"}
        # An explicit token wins; else ``authorization`` (a full header value, e.g. from
        # ``authorization_from_env()``: RUNYARD_TOKEN or the mlflow client's variables).
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif authorization:
            headers["Authorization"] = authorization
        if workspace:
            # Recipes, queues and jobs are named within a workspace (``default`` without the header).
            headers[WORKSPACE_HEADER] = workspace
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; transport failures become ``Unavailable`` so callers can back off and retry."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise Unavailable(f"cannot reach the runyard server at {self.base_url}: {error}") from error
        raise_for_error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BaseClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
