"""Domain errors → HTTP, registered once on the app.

Every error body is MLflow's ``{"error_code": …, "message": …}`` so the ``mlflow`` client raises the
same ``MlflowException`` it would against MLflow. Unexpected errors are logged and answered with a
generic 500; database connection loss is a retryable 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from runyard.api.responses import JSONResponse
from runyard.errors import RunyardError, Unauthenticated, http_status_for

logger = logging.getLogger("runyard.api")


def error_response(error_code: str, message: str, status: int | None = None) -> Response:
    return JSONResponse(
        {"error_code": error_code, "message": message},
        status_code=status if status is not None else http_status_for(error_code),
    )


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RunyardError)
    response = error_response(error.error_code, error.message)
    if isinstance(error, Unauthenticated) and "x-requested-with" not in request.headers:
        # Browsers and HTTP clients learn from this which scheme to answer with (as MLflow's basic-auth app).
        # Not for the web UI's own calls (marked X-Requested-With): the browser would hold them behind its
        # password dialog instead of letting the UI show its login page.
        response.headers["WWW-Authenticate"] = 'Basic realm="runyard"'
    return response


async def _validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
    location = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path"))
    return error_response("INVALID_PARAMETER_VALUE", f"Invalid value for parameter '{location}': {first['msg']}")


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    codes = {
        404: "ENDPOINT_NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
    }
    code = codes.get(error.status_code, "BAD_REQUEST" if error.status_code < 500 else "INTERNAL_ERROR")
    return error_response(code, str(error.detail), error.status_code)


async def _integrity_error(_request: Request, error: Exception) -> Response:
    logger.info("integrity error: %s", error)
    return error_response("RESOURCE_ALREADY_EXISTS", "the resource already exists or conflicts with another")


async def _data_error(_request: Request, error: Exception) -> Response:
    # The database refused a value (too long, out of range) that validation let through: still the client's input.
    assert isinstance(error, DataError)
    return error_response("INVALID_PARAMETER_VALUE", f"the database refused a value in the request: {error.orig}")


async def _operational_error(_request: Request, error: Exception) -> Response:
    logger.warning("database unavailable: %s", error)
    return error_response("TEMPORARILY_UNAVAILABLE", "the metadata database is unavailable; retry shortly")


async def _overflow_error(_request: Request, error: Exception) -> Response:
    # A number past what the database driver can bind (64-bit integers) that no route bounded first.
    logger.info("integer overflow from request input: %s", error)
    return error_response(
        "INVALID_PARAMETER_VALUE", "A number in the request is out of range: integers must fit in 64 bits."
    )


async def _unexpected_error(_request: Request, error: Exception) -> Response:
    logger.exception("unhandled error", exc_info=error)
    return error_response("INTERNAL_ERROR", "internal server error; see the server log for details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RunyardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(OverflowError, _overflow_error)
    app.add_exception_handler(Exception, _unexpected_error)
