"""Every number a client sends is bounded in the OpenAPI document, so none reaches the database
out of the range MongoDB and the domain accept (a 2**31 `position` was a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.settings import Settings

NUMERIC = {"integer", "number"}


@pytest.fixture(scope="module")
async def spec(mongodb_uri: str) -> AsyncIterator[dict[str, Any]]:
    """The OpenAPI document of an app that is never started: it needs no database."""
    app = create_app(Settings(mongodb_uri=mongodb_uri, mongodb_db="jbts_docs_only"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/openapi.json")
        assert response.status_code == 200
        yield response.json()


def _numbers(
    spec: dict[str, Any], schema: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every numeric schema reachable from `schema`, with the path that reaches it."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:  # a recursive schema: already walked on this path
            return
        name = ref.rsplit("/", 1)[-1]
        yield from _numbers(spec, spec["components"]["schemas"][name], where, seen | {ref})
        return
    if schema.get("type") in NUMERIC:
        yield where, schema
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, part in enumerate(schema.get(keyword, [])):
            yield from _numbers(spec, part, f"{where}[{keyword}.{index}]", seen)
    for name, part in schema.get("properties", {}).items():
        yield from _numbers(spec, part, f"{where}.{name}", seen)
    for keyword in ("items", "additionalProperties", "not"):
        part = schema.get(keyword)
        if isinstance(part, dict):
            yield from _numbers(spec, part, f"{where}[{keyword}]", seen)


def client_numbers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every numeric schema of a request body or parameter (query, path, header, cookie)."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            at = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{at} {parameter['in']}.{parameter['name']}"
                yield from _numbers(spec, parameter.get("schema", {}), where, frozenset())
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                where = f"{at} body({media_type})"
                yield from _numbers(spec, content.get("schema", {}), where, frozenset())


def test_every_number_a_client_sends_has_a_minimum_and_a_maximum(spec: dict[str, Any]) -> None:
    found = list(client_numbers(spec))
    unbounded = [
        where
        for where, schema in found
        if not ({"minimum", "exclusiveMinimum"} & set(schema))
        or not ({"maximum", "exclusiveMaximum"} & set(schema))
    ]

    assert found  # the walk reaches the numbers (page, limit, position, timeout_ms, ...)
    assert unbounded == []


def test_the_walk_finds_numbers_in_bodies_parameters_and_nested_lists(
    spec: dict[str, Any],
) -> None:
    places = {where for where, _ in client_numbers(spec)}

    assert "GET /api/v1/tests query.page" in places
    assert "POST /api/v1/tests/{id}/steps body(application/json).position[anyOf.0]" in places
    assert "POST /api/v1/tests body(application/json).steps[items].timeout_ms" in places
