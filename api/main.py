"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from pymongo.monitoring import CommandListener

from api.analytics.router import router as analytics_router
from api.artifacts.logs import router as logs_router
from api.artifacts.reports import router as reports_router
from api.artifacts.reports import suite_reports
from api.artifacts.screenshots import MULTIPART_OVERHEAD, SCREENSHOTS_PATH
from api.artifacts.screenshots import router as screenshots_router
from api.auth.guard import document_security, install_auth, unscoped_routes
from api.auth.router import router as keys_router
from api.configurations.router import router as configurations_router
from api.database.connection import Database
from api.database.writes import TrackWrites
from api.docs import install_docs, restore_examples
from api.edge import add_edge_middleware
from api.errors import PROBLEM_MEDIA_TYPE, install_problem_handlers
from api.executions.router import IMPORT_PATH
from api.executions.router import imports as imports_router
from api.executions.router import router as executions_router
from api.health.router import router as health_router
from api.query import cursor
from api.schema_gate import SchemaGate
from api.settings import Settings, get_settings
from api.suites.router import router as suites_router
from api.templates.router import router as templates_router
from api.test_defs.router import router as tests_router

API_PREFIX = "/api/v1"


class ConfigurationError(RuntimeError):
    """The service cannot start with these settings."""


def create_app(
    settings: Settings | None = None, *, command_listeners: Sequence[CommandListener] = ()
) -> FastAPI:
    """The app; `command_listeners` see every command its database client sends (the benchmark
    counts round trips per request with one)."""
    settings = settings or get_settings()
    if not settings.mongodb_uri:
        raise ConfigurationError(
            "MONGODB_URI is not set: point it at MongoDB, or run `jbts serve`, which starts the "
            "embedded engine"
        )
    uri = settings.mongodb_uri

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(
            uri=uri,
            db_name=settings.mongodb_db,
            timeout_ms=settings.server_selection_timeout_ms,
            connect_timeout_ms=settings.connect_timeout_ms,
            command_listeners=command_listeners,
        )
        await database.init()
        app.state.database = database
        previous_secret = cursor.use_secret(settings.cursor_secret.get_secret_value())
        try:
            yield
        finally:
            cursor.use_secret(previous_secret)
            await database.close()

    app = FastAPI(
        title="JBTestSuite data service",
        version="0.1.0",
        summary="Test definitions, execution tracking, artifacts and configuration over REST.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(SchemaGate, prefix=API_PREFIX)
    app.add_middleware(TrackWrites)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(configurations_router)
    api.include_router(tests_router)
    api.include_router(suites_router)
    api.include_router(templates_router)
    api.include_router(analytics_router)
    api.include_router(executions_router)
    api.include_router(imports_router)
    api.include_router(logs_router)
    api.include_router(screenshots_router)
    api.include_router(reports_router)
    api.include_router(suite_reports)
    api.include_router(keys_router)
    app.include_router(api)
    if unscoped := unscoped_routes(app.routes, API_PREFIX):
        raise ConfigurationError(
            "every route under /api/v1 declares the domain of its scope (requires(Domain.X), "
            f"api/auth/guard.py); these declare none: {', '.join(unscoped)}"
        )
    install_auth(app, settings)
    app.include_router(health_router)
    install_docs(app)
    _document_problems_only_as_problem_json(app)
    # Last: CORS must wrap every other middleware.
    add_edge_middleware(
        app,
        settings,
        path_limits={
            API_PREFIX + IMPORT_PATH: settings.max_import_bytes,
            API_PREFIX + SCREENSHOTS_PATH: settings.max_screenshot_bytes + MULTIPART_OVERHEAD,
        },
    )
    return app


def _document_problems_only_as_problem_json(app: FastAPI) -> None:
    """Error responses are documented as `application/problem+json` only, and the statuses any
    route may answer are documented on every route: 503 (the database is unavailable, a write
    meets an unmigrated schema, or the server is at its concurrency limit) and, where there is a
    body, 413 (over the size limit).

    `responses={status: {"model": Problem}}` makes FastAPI also list `application/json` (or the
    route's `response_class` media type), which the API never sends for an error.
    """
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()
            restore_examples(schema, app.routes)
            document_security(schema, app.routes)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.setdefault("responses", {})
                    responses.setdefault("503", _UNAVAILABLE)
                    if "requestBody" in operation:
                        responses.setdefault("413", _TOO_LARGE)
                    for status, response in responses.items():
                        content = response.get("content", {})
                        if status.startswith(("4", "5")) and PROBLEM_MEDIA_TYPE in content:
                            # Not the route's own media type either (`text/event-stream`).
                            for media_type in set(content) - {PROBLEM_MEDIA_TYPE}:
                                del content[media_type]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_TOO_LARGE: dict[str, Any] = {
    "description": "The body is larger than the service accepts (`JBTS_MAX_BODY_BYTES`).",
    "content": _PROBLEM_CONTENT,
}
_UNAVAILABLE: dict[str, Any] = {
    "description": "The database is unavailable, a write meets a schema that is not migrated, "
    "or the server is at its concurrency limit: retry after `Retry-After` seconds.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer"},
        }
    },
    "content": _PROBLEM_CONTENT,
}
