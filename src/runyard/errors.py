"""Domain errors: one small hierarchy, mapped to HTTP once (in ``runyard.api.errors``).

::

    RunyardError                      INTERNAL_ERROR
    ├── NotFound                      RESOURCE_DOES_NOT_EXIST
    ├── AlreadyExists                 RESOURCE_ALREADY_EXISTS
    ├── InvalidParameter              INVALID_PARAMETER_VALUE
    │   └── LimitExceeded             INVALID_PARAMETER_VALUE (oversize values, too many items)
    ├── PermissionDenied              PERMISSION_DENIED
    ├── Unauthenticated               UNAUTHENTICATED
    ├── Conflict                      RESOURCE_CONFLICT (409)
    └── Unavailable                   TEMPORARILY_UNAVAILABLE

The error codes are MLflow's, so the ``mlflow`` client raises the same exceptions against runyard as
against MLflow. Nothing here knows about HTTP; the status table lives beside the codes because the
mapping is part of the MLflow wire contract.
"""

from __future__ import annotations


class RunyardError(Exception):
    """Base class of every error runyard reports to a user."""

    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code


class NotFound(RunyardError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(RunyardError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidParameter(RunyardError):
    error_code = "INVALID_PARAMETER_VALUE"


class LimitExceeded(InvalidParameter):
    """A value or a batch is larger than the documented limit (MLflow reports these as invalid values)."""


class PermissionDenied(RunyardError):
    error_code = "PERMISSION_DENIED"


class Unauthenticated(RunyardError):
    error_code = "UNAUTHENTICATED"


class Conflict(RunyardError):
    error_code = "RESOURCE_CONFLICT"


class Unavailable(RunyardError):
    error_code = "TEMPORARILY_UNAVAILABLE"


# MLflow's ERROR_CODE_TO_HTTP_STATUS (mlflow/exceptions.py), kept identical so clients retry and raise alike.
ERROR_CODE_TO_HTTP_STATUS: dict[str, int] = {
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "METHOD_NOT_ALLOWED": 405,
}


def http_status_for(error_code: str) -> int:
    """The HTTP status MLflow uses for ``error_code`` (500 for unknown codes)."""
    return ERROR_CODE_TO_HTTP_STATUS.get(error_code, 500)
