"""Every route under /api/v1, taken from the app's route table: refused without a key (401),
refused with a key that lacks its scope (403 naming it), let through with its scope.

A route added without a declared scope fails here (and `create_app` refuses to build)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.auth import keys
from api.auth.guard import Domain, ServedRoute, requires, served_routes, unscoped_routes
from api.main import API_PREFIX
from documents.keys import Scope
from tests.api.auth.conftest import bearer, caller, make_key
from tests.api.helpers import UNKNOWN_ID, assert_problem

PATH_SAMPLES = {"id": UNKNOWN_ID, "step_id": "s1"}


def operations(app: FastAPI) -> list[tuple[str, str, ServedRoute]]:
    """(method, concrete path, route) of every API operation."""
    found: list[tuple[str, str, ServedRoute]] = []
    for route in served_routes(app.routes):
        if route.path.startswith(API_PREFIX):
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_SAMPLES[m.group(1)], route.path)
            found.extend((method, path, route) for method in sorted(route.methods or ()))
    return found


def lacking(needed: Scope) -> list[Scope]:
    """Every scope but those that give `needed`."""
    return [scope for scope in Scope if needed not in keys.effective([scope])]


def test_every_api_route_declares_its_scope(app: FastAPI) -> None:
    ops = operations(app)
    assert len(ops) > 60
    assert unscoped_routes(app.routes, API_PREFIX) == []
    for method, path, route in ops:
        assert route.required_scope(method) is not None, (method, path)


def test_a_route_without_a_declared_scope_is_found() -> None:
    app = FastAPI()
    api = APIRouter(prefix=API_PREFIX)
    unscoped = APIRouter(prefix="/things")
    scoped = APIRouter(prefix="/others", dependencies=[requires(Domain.CONFIG)])

    @unscoped.get("")
    async def things() -> None: ...

    @scoped.get("")
    async def others() -> None: ...

    api.include_router(unscoped)
    api.include_router(scoped)
    app.include_router(api)
    assert unscoped_routes(app.routes, API_PREFIX) == [f"GET {API_PREFIX}/things"]


def test_the_innermost_declaration_wins(app: FastAPI) -> None:
    served = served_routes(app.routes)
    routes = {(route.path, method): route for route in served for method in route.methods}
    expected = {
        ("/api/v1/tests/{id:item}", "GET"): Scope.DEFINITIONS_READ,
        ("/api/v1/tests/{id:item}", "PATCH"): Scope.DEFINITIONS_WRITE,
        ("/api/v1/tests/bulk", "POST"): Scope.DEFINITIONS_WRITE,
        ("/api/v1/tests/{id:item}/steps/order", "PUT"): Scope.DEFINITIONS_WRITE,
        ("/api/v1/tests/{id:item}/history", "GET"): Scope.RESULTS_READ,
        ("/api/v1/suites/{id:item}/report", "GET"): Scope.RESULTS_READ,
        ("/api/v1/suites/{id:item}/runs", "POST"): Scope.RESULTS_WRITE,
        ("/api/v1/suites/{id:item}/tests", "POST"): Scope.DEFINITIONS_WRITE,
        ("/api/v1/executions/runs/import", "POST"): Scope.RESULTS_WRITE,
        ("/api/v1/artifacts/logs", "POST"): Scope.RESULTS_WRITE,
        ("/api/v1/artifacts/screenshots", "POST"): Scope.RESULTS_WRITE,
        ("/api/v1/configurations/browsers", "GET"): Scope.CONFIG_READ,
        ("/api/v1/configurations/environments/{id:item}", "DELETE"): Scope.CONFIG_WRITE,
        ("/api/v1/keys", "GET"): Scope.ADMIN,
        ("/api/v1/keys/{id:item}", "DELETE"): Scope.ADMIN,
    }
    for (path, method), scope in expected.items():
        assert routes[path, method].required_scope(method) == scope, (path, method)
    history = routes["/api/v1/tests/{id:item}/history", "GET"]
    assert history.guard is not None
    assert history.guard.domain is Domain.RESULTS


async def test_every_route_refuses_a_request_without_a_key(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    for method, path, _ in operations(app):
        response = await anonymous.request(method, path)
        body = assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="jbts"'), path
        assert "API key" in body["detail"]


async def test_every_route_refuses_a_key_without_its_scope_and_accepts_one_with_it(
    app: FastAPI,
) -> None:
    ops = operations(app)
    needed = {route.required_scope(method) for method, _, route in ops}
    without: dict[Scope, str] = {}
    with_: dict[Scope, str] = {}
    for scope in needed:
        assert scope is not None
        without[scope] = await make_key(lacking(scope), name=f"without-{scope}")
        with_[scope] = await make_key([scope], name=f"with-{scope}")
    for method, path, route in ops:
        scope = route.required_scope(method)
        assert scope is not None
        async with caller(app, bearer(without[scope])) as http:
            refused = await http.request(method, path)
        body = assert_problem(refused, 403)
        assert f"`{scope}`" in body["detail"], (method, path, body)
        assert body["required_scope"] == scope
        async with caller(app, bearer(with_[scope])) as http:
            accepted = await http.request(method, path)
        assert accepted.status_code not in (401, 403, 429), (method, path, accepted.text)


async def test_a_write_scope_includes_its_read_and_admin_includes_all(app: FastAPI) -> None:
    writer = await make_key([Scope.DEFINITIONS_WRITE])
    async with caller(app, bearer(writer)) as http:
        assert (await http.get("/api/v1/tests")).status_code == 200
        assert (await http.get("/api/v1/configurations/browsers")).status_code == 403
        assert (await http.get("/api/v1/keys")).status_code == 403


@pytest.mark.parametrize("path", ["/health/live", "/openapi.json", "/docs"])
async def test_health_and_docs_stay_public(anonymous: httpx.AsyncClient, path: str) -> None:
    assert (await anonymous.get(path)).status_code == 200
