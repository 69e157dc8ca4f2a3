"""/docs (Swagger UI) and /redoc (ReDoc) with their assets served by the app itself.

FastAPI's default pages load both from a CDN, so they are blank on a machine without internet.
The `fastapi-offline` package ships the built files (swagger-ui-bundle.js, swagger-ui.css,
redoc.standalone.js, a favicon); we serve them from its package directory. create_app() turns
FastAPI's own pages off (`docs_url=None, redoc_url=None`) and calls `install_docs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.routing import BaseRoute

from api.auth.guard import served_routes

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and the assets they load, all served locally."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        # root_path: the pages keep working behind a proxy that serves the API under a prefix.
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.png"),
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.png"),
            with_google_fonts=False,  # fonts from Google are not local either
        )


def restore_examples(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Put back the `null`s FastAPI drops from every example of the OpenAPI document.

    FastAPI serialises the document with `exclude_none`, which also strips `null` members from
    examples, so a documented example would lack fields that are required but nullable (a
    published example that fails its own schema). The examples are copied again, as written,
    from the models (`json_schema_extra`, the components named after them) and from the routes'
    `responses=` (the media types' `example`/`examples`).
    """
    components = schema.get("components", {}).get("schemas", {})
    for name, model in _models_with_examples().items():
        for component in (name, f"{name}-Input", f"{name}-Output"):
            if component in components:
                components[component]["examples"] = model
    paths = schema.get("paths", {})
    for served in served_routes(routes):
        if served.path_format not in paths:
            continue
        for method in served.methods:
            operation = paths[served.path_format].get(method.lower(), {})
            for status, documented in served.route.responses.items():
                published = operation.get("responses", {}).get(str(status), {}).get("content", {})
                for media_type, content in documented.get("content", {}).items():
                    for field in ("example", "examples"):
                        if field in content and media_type in published:
                            published[media_type][field] = to_jsonable_python(content[field])


def _models_with_examples() -> dict[str, list[Any]]:
    """Per model name (unique among the service's models), the examples its config declares."""
    found: dict[str, list[Any]] = {}
    seen: set[str] = set()
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if not model.__module__.startswith(("api.", "documents.")):
                continue
            name = model.__name__
            if name in seen:
                found.pop(name, None)  # two models of one name: not one component
                continue
            seen.add(name)
            extra = model.model_config.get("json_schema_extra")
            if isinstance(extra, dict) and isinstance(extra.get("examples"), list):
                found[name] = to_jsonable_python(extra["examples"])
    return found
