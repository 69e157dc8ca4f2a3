"""One error format for the whole API: RFC 9457 problem details.

Business errors are exceptions that carry their HTTP status; the handlers registered by
`install_problem_handlers` turn them, FastAPI's validation errors, Starlette's HTTP errors and any
unexpected failure into `application/problem+json`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.errors import (
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.database import writes

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE_LOG = "Database unavailable"
"""How the log line of a request that met an outage starts (one line per burst: api.server)."""


class ProblemFieldError(BaseModel):
    """One invalid input: where it was and what is wrong with it."""

    location: str = Field(examples=["query.limit"])
    message: str = Field(examples=["Input should be less than or equal to 200"])


class Problem(BaseModel):
    """An RFC 9457 problem detail (some problems add members, e.g. `ready` on readiness)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "browser configuration 6650f1c2a7b4e3d2c1b0a998 does not exist",
                }
            ]
        },
    )

    type: str = Field(description="A URI reference identifying the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


class ProblemError(Exception):
    """Base of every error the API reports on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[ProblemFieldError] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.extensions = extensions or {}

    def headers(self) -> dict[str, str] | None:
        """Response headers this problem carries (e.g. `Retry-After`)."""
        return None

    def to_problem(self, instance: str | None = None) -> Problem:
        return Problem.model_validate(
            {
                **self.extensions,
                "type": PROBLEM_TYPE_BASE + self.slug,
                "title": self.status.phrase,
                "status": self.status,
                "detail": self.detail,
                "instance": instance,
                "errors": self.errors,
            }
        )

    def response(self, instance: str | None = None) -> JSONResponse:
        return problem_response(self.to_problem(instance), headers=self.headers())


class NotFound(ProblemError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"


class Conflict(ProblemError):
    status = HTTPStatus.CONFLICT
    slug = "conflict"


AUTH_REALM = "jbts"


class Unauthorized(ProblemError):
    """No API key, or one that is unknown, expired or revoked (`WWW-Authenticate` says how to
    send one)."""

    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthorized"
    invalid_token = False

    def headers(self) -> dict[str, str] | None:
        challenge = f'Bearer realm="{AUTH_REALM}"'
        if self.invalid_token:
            challenge += ', error="invalid_token"'
        return {"WWW-Authenticate": challenge}


class InvalidKey(Unauthorized):
    slug = "invalid-key"
    invalid_token = True


class Forbidden(ProblemError):
    """A valid API key without the scope an operation needs."""

    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"


class TooManyRequests(ProblemError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class PreconditionFailed(ProblemError):
    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"


class PayloadTooLarge(ProblemError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "payload-too-large"


TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
"""MongoDB's codes for a document over its 16 MiB limit: BSONObjectTooLarge, and the older codes
of an update (17419) or upsert (17420) whose result would be too large."""


class StoredDocumentTooLarge(PayloadTooLarge):
    """A write MongoDB (or the driver, before sending it) refused: the document would be over
    MongoDB's 16 MiB limit. The API's own bounds keep documents far below it; this answers for
    data that grew past them some other way."""

    slug = "document-too-large"


def document_too_large() -> StoredDocumentTooLarge:
    return StoredDocumentTooLarge(
        "the write would make a document larger than MongoDB's 16 MiB limit and was refused"
    )


class UnsupportedMediaType(ProblemError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    slug = "unsupported-media-type"


class InvalidInput(ProblemError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"

    @classmethod
    def at(cls, location: str, message: str) -> InvalidInput:
        """One invalid input at a known location, e.g. `InvalidInput.at("query.sort_by", ...)`."""
        return cls(message, errors=[ProblemFieldError(location=location, message=message)])

    @classmethod
    def listing(cls, errors: Sequence[ProblemFieldError]) -> InvalidInput:
        """Several invalid inputs; the detail names each location and its message."""
        return cls(_detail(errors), errors=errors)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""The HTTP methods that may change data (and carry a body)."""

RETRY_AFTER_SECONDS = 2
"""What a 503 tells clients to wait before retrying (the service re-checks about as often)."""


class ServiceUnavailable(ProblemError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "service-unavailable"

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class DatabaseUnavailable(ServiceUnavailable):
    """The database did not answer. The detail never names hosts, ports or driver state."""

    slug = "database-unavailable"

    @classmethod
    def of(cls, exc: PyMongoError, *, method: str = "GET") -> DatabaseUnavailable:
        """The problem for a driver error, saying truthfully what became of a write."""
        if isinstance(exc, ServerSelectionTimeoutError) and writes.sent_any():
            detail = (
                "the database became unavailable after this request had sent part of its "
                "writes; what was applied is unknown: read before sending the request again"
            )
        elif isinstance(exc, ServerSelectionTimeoutError):
            detail = "the database is not available: retry in a few seconds"
            if method in WRITE_METHODS:
                detail += " (the write that needed it was not sent)"
        elif isinstance(exc, ExecutionTimeout):
            detail = "the database did not finish in time: retry in a few seconds"
        else:
            detail = "the connection to the database failed during this request"
            if method in WRITE_METHODS:
                detail += (
                    ", so its write may or may not have been applied: read the resource (or the "
                    "list) to see whether it was, and send the write again only if it was not, "
                    "with a new Idempotency-Key (the same key answers 409 "
                    "/problems/idempotency-outcome-unknown; it never runs this write again)"
                )
            else:
                detail += ": retry shortly"
        return cls(detail)


class SchemaNotMigrated(ServiceUnavailable):
    """The database's schema is not the one this service needs: writes wait for migrations."""

    slug = "schema-not-migrated"


def nothing_written(exc: Exception) -> bool:
    """Whether a request that failed with `exc` is known to have written nothing: its answer is a
    4xx (refused input or state, a write the database refused) or a 503 for a database the write
    never reached. Anything else (a connection that broke mid-write, a timeout, an unexpected
    error) leaves what it wrote unknown."""
    if isinstance(exc, ServerSelectionTimeoutError):
        # The failed operation was not sent; an earlier write of the same request may have been.
        return not writes.sent_any()
    if isinstance(exc, SchemaNotMigrated | DocumentTooLarge):
        return True
    if isinstance(exc, ProblemError):
        return exc.status < HTTPStatus.INTERNAL_SERVER_ERROR
    if isinstance(exc, RequestValidationError):
        return True
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code < HTTPStatus.INTERNAL_SERVER_ERROR
    if isinstance(exc, DuplicateKeyError):
        return True  # answered 409: the database refused the write
    if isinstance(exc, OperationFailure):
        return exc.code in TOO_LARGE_CODES  # answered 413: refused; any other is a 500
    return False


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _location(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _field_errors(
    errors: Sequence[Any], prefix: Sequence[int | str] = ()
) -> list[ProblemFieldError]:
    return [
        ProblemFieldError(
            location=_location([*prefix, *error.get("loc", ())]),
            message=str(error.get("msg", "")).removeprefix("Value error, "),
        )
        for error in errors
    ]


def _detail(field_errors: Sequence[ProblemFieldError]) -> str:
    return "; ".join(f"{e.location}: {e.message}" for e in field_errors) or "Invalid input"


def invalid_input(exc: ValidationError, *, at: Sequence[int | str]) -> InvalidInput:
    """A pydantic error found while validating part of a request (e.g. one bulk item) by hand."""
    return InvalidInput.listing(_field_errors(exc.errors(), at))


def validation_problem(errors: Sequence[Any], instance: str | None = None) -> Problem:
    field_errors = _field_errors(errors)
    return Problem(
        type=PROBLEM_TYPE_BASE + InvalidInput.slug,
        title=HTTPStatus.UNPROCESSABLE_ENTITY.phrase,
        status=HTTPStatus.UNPROCESSABLE_ENTITY,
        detail=_detail(field_errors),
        instance=instance,
        errors=field_errors,
    )


async def _problem_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return exc.response(request.url.path)


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # The driver's message names hosts, ports and topology: logged here, never sent to clients.
    assert isinstance(exc, PyMongoError)
    reason = str(exc).split(", Timeout:", 1)[0][:300]  # without the topology dump
    logger.warning(
        "%s: %s %s: %s", DATABASE_UNAVAILABLE_LOG, request.method, request.url.path, reason
    )
    return DatabaseUnavailable.of(exc, method=request.method).response(request.url.path)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors(), request.url.path))


_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == HTTPStatus.BAD_REQUEST:
        # FastAPI's only 400: a body it could not decode (e.g. not UTF-8). That is invalid input,
        # answered like every other: a 422 at `body`.
        error = InvalidInput.at("body", "the body could not be read as JSON (UTF-8)")
        return error.response(request.url.path)
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    if status == HTTPStatus.NOT_FOUND and detail == "Not Found":
        detail = f"no route matches {request.method} {request.url.path}"
    problem = Problem(
        type=PROBLEM_TYPE_BASE + _HTTP_SLUGS.get(status, "http-error"),
        title=status.phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
    )
    headers = dict(exc.headers) if exc.headers else {}
    allowed = _allowed_methods(request) if status == HTTPStatus.METHOD_NOT_ALLOWED else []
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    return problem_response(problem, headers=headers or None)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this path (the router's 405 names one route's only)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _duplicate_key_handler(request: Request, exc: Exception) -> JSONResponse:
    # Services translate the duplicates they expect; this is the safety net for a unique index a
    # service did not anticipate, so a race never surfaces as a 500.
    conflict = Conflict("a document with the same unique key already exists")
    return problem_response(conflict.to_problem(request.url.path))


async def _too_large_handler(request: Request, exc: Exception) -> JSONResponse:
    return document_too_large().response(request.url.path)


async def _operation_failure_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationFailure)
    if exc.code in TOO_LARGE_CODES:
        return await _too_large_handler(request, exc)
    return await _unexpected_error_handler(request, exc)


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = Problem(
        type=PROBLEM_TYPE_BASE + "internal-error",
        title=HTTPStatus.INTERNAL_SERVER_ERROR.phrase,
        status=HTTPStatus.INTERNAL_SERVER_ERROR,
        detail="The server failed to handle this request; the error has been logged.",
        instance=request.url.path,
    )
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(DuplicateKeyError, _duplicate_key_handler)
    app.add_exception_handler(ConnectionFailure, _database_error_handler)
    app.add_exception_handler(ExecutionTimeout, _database_error_handler)
    app.add_exception_handler(DocumentTooLarge, _too_large_handler)
    app.add_exception_handler(OperationFailure, _operation_failure_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the problem details a route can answer with."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
