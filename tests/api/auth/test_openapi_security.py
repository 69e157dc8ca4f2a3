"""The OpenAPI document declares how to authenticate and what each operation needs, so /docs
has an Authorize button that works."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from api.auth.guard import served_routes
from tests.api.auth.conftest import caller


async def test_security_schemes_and_each_operations_scope(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    seen = 0
    for route in served_routes(app.routes):
        if not route.route.include_in_schema:
            continue
        for method in route.methods:
            operation = spec["paths"][route.path_format][method.lower()]
            scope = route.required_scope(method)
            if not route.path.startswith("/api/v1"):
                assert "security" not in operation
                continue
            seen += 1
            assert operation["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
            assert operation["x-required-scope"] == scope
            assert f"`{scope}`" in operation["description"]
            for status in ("401", "403", "429"):
                assert "application/problem+json" in operation["responses"][status]["content"]
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert seen > 60
    assert "security" not in spec["paths"]["/health/live"]["get"]


async def test_the_docs_page_works_without_a_key(app: FastAPI) -> None:
    async with caller(app) as http:
        page = await http.get("/docs")
        spec = await http.get("/openapi.json")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert spec.json()["components"]["securitySchemes"]
