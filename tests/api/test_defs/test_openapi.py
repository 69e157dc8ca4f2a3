"""The OpenAPI document describes every `/tests` route, its parameters, problems and examples."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.main import create_app
from api.settings import Settings
from api.test_defs.schemas import BulkRequest, StepCreate, StepOrder, TestCaseCreate
from tests.api.helpers import PROBLEM_JSON

CASES = "/api/v1/tests"
CASE = "/api/v1/tests/{id}"
STEPS = "/api/v1/tests/{id}/steps"
STEP = "/api/v1/tests/{id}/steps/{step_id}"
ORDER = "/api/v1/tests/{id}/steps/order"
BULK = "/api/v1/tests/bulk"
CLONE = "/api/v1/tests/{id}/clone"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
KEY = "Idempotency-Key"

# path, method, parameters, problem statuses, request body schema
ROUTES: list[tuple[str, str, set[str], set[str], str | None]] = [
    (
        CASES,
        "get",
        {
            "page",
            "limit",
            "fields",
            "order",
            "sort_by",
            "q",
            "status",
            "priority",
            "tags",
            "owner",
            "created_from",
            "created_to",
            "updated_from",
            "updated_to",
            "browser_configuration_id",
            "environment_id",
        },
        {"422"},
        None,
    ),
    (CASES, "post", {KEY}, {"409", "415", "422"}, "TestCaseCreate"),
    (BULK, "post", {KEY}, {"409", "415", "422"}, "BulkRequest"),
    (CASE, "get", {"id", "If-None-Match"}, {"304", "404", "422"}, None),
    (CASE, "patch", {"id", "If-Match"}, {"404", "409", "412", "415", "422"}, "TestCaseUpdate"),
    (CASE, "delete", {"id", "If-Match"}, {"404", "412", "422"}, None),
    (CLONE, "post", {"id", KEY}, {"404", "409", "422"}, "CloneRequest"),
    (STEPS, "get", {"id", "page", "limit", "fields"}, {"404", "422"}, None),
    (STEPS, "post", {"id", "If-Match", KEY}, {"404", "409", "412", "415", "422"}, "StepCreate"),
    (ORDER, "put", {"id", "If-Match"}, {"404", "412", "415", "422"}, "StepOrder"),
    (STEP, "patch", {"id", "step_id", "If-Match"}, {"404", "412", "415", "422"}, "StepUpdate"),
    (STEP, "delete", {"id", "step_id", "If-Match"}, {"404", "412", "422"}, None),
]


@pytest.fixture(scope="module")
async def spec(mongodb_uri: str) -> dict[str, Any]:
    """The document of an app that is never started: serving its docs needs no database."""
    app = create_app(Settings(mongodb_uri=mongodb_uri, mongodb_db="jbts_docs_only"))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][name]
    return found


def _refs(schema: dict[str, Any]) -> set[str]:
    """The component names a schema refers to, directly or as a member of `anyOf`/`allOf`."""
    parts = [schema, *schema.get("anyOf", []), *schema.get("allOf", [])]
    return {part["$ref"].rsplit("/", 1)[-1] for part in parts if "$ref" in part}


class TestRoutes:
    async def test_every_route_is_listed_with_its_methods(self, spec: dict[str, Any]) -> None:
        expected: dict[str, set[str]] = {}
        for path, method, *_ in ROUTES:
            expected.setdefault(path, set()).add(method)

        for path, methods in expected.items():
            assert path in spec["paths"], path
            assert set(spec["paths"][path]) == methods, path

    @pytest.mark.parametrize(("path", "method", "parameters", "statuses", "body"), ROUTES)
    async def test_parameters_problems_and_body(
        self,
        spec: dict[str, Any],
        path: str,
        method: str,
        parameters: set[str],
        statuses: set[str],
        body: str | None,
    ) -> None:
        operation = spec["paths"][path][method]

        assert operation.get("summary")
        assert operation.get("description")
        assert {param["name"] for param in operation.get("parameters", [])} == parameters
        for param in operation.get("parameters", []):
            # sort_by is documented by its enum (TestListParameters).
            assert param.get("description") or param["name"] == "sort_by", param["name"]
        responses = operation["responses"]
        assert statuses <= set(responses)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, status
        if body is None:
            assert "requestBody" not in operation
        else:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body in _refs(schema)

    async def test_ids_are_documented(self, spec: dict[str, Any]) -> None:
        step = next(p for p in spec["paths"][STEP]["patch"]["parameters"] if p["name"] == "step_id")
        case = next(p for p in spec["paths"][CASE]["get"]["parameters"] if p["name"] == "id")

        assert case["schema"]["pattern"] == "^[0-9a-fA-F]{24}$"
        assert step["in"] == "path"
        assert step["schema"]["pattern"] == "^[A-Za-z0-9_-]+$"

    async def test_if_match_is_a_header(self, spec: dict[str, Any]) -> None:
        param = next(
            p for p in spec["paths"][CASE]["patch"]["parameters"] if p["name"] == "If-Match"
        )

        assert param["in"] == "header"
        assert "412" in param["description"]


class TestListParameters:
    def _param(self, spec: dict[str, Any], name: str) -> dict[str, Any]:
        params = spec["paths"][CASES]["get"]["parameters"]
        found: dict[str, Any] = next(p for p in params if p["name"] == name)
        return found

    def _enum(self, spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
        for part in [schema, *schema.get("anyOf", [])]:
            if part.get("type") == "array":
                part = part["items"]
            if "$ref" in part:
                part = _schema(spec, part["$ref"].rsplit("/", 1)[-1])
            if "enum" in part:
                values: list[str] = part["enum"]
                return values
        raise AssertionError(schema)

    async def test_sort_by_lists_the_sortable_fields(self, spec: dict[str, Any]) -> None:
        sort_by = self._param(spec, "sort_by")

        assert self._enum(spec, sort_by["schema"]) == [
            "created_at",
            "updated_at",
            "name",
            "priority",
            "status",
        ]

    async def test_filters_list_their_values(self, spec: dict[str, Any]) -> None:
        status = self._param(spec, "status")
        priority = self._param(spec, "priority")

        assert self._enum(spec, status["schema"]) == ["draft", "active", "deprecated", "archived"]
        assert self._enum(spec, priority["schema"]) == ["low", "medium", "high", "critical"]

    async def test_q_says_what_it_searches(self, spec: dict[str, Any]) -> None:
        q = self._param(spec, "q")

        assert "name" in q["description"]
        assert "tags" in q["description"]


class TestBodies:
    @pytest.mark.parametrize(
        "name", ["TestCaseCreate", "StepInput", "StepCreate", "StepOrder", "BulkRequest"]
    )
    async def test_request_bodies_have_examples(self, spec: dict[str, Any], name: str) -> None:
        assert _schema(spec, name).get("examples"), name

    async def test_the_examples_are_valid_bodies(self, spec: dict[str, Any]) -> None:
        for model, name in (
            (TestCaseCreate, "TestCaseCreate"),
            (StepCreate, "StepCreate"),
            (StepOrder, "StepOrder"),
            (BulkRequest, "BulkRequest"),
        ):
            for example in _schema(spec, name)["examples"]:
                model.model_validate(example)

    async def test_bulk_documents_its_limit(self, spec: dict[str, Any]) -> None:
        operations = _schema(spec, "BulkRequest")["properties"]["operations"]

        assert (operations["minItems"], operations["maxItems"]) == (1, 1000)

    async def test_case_reads_document_steps_and_version(self, spec: dict[str, Any]) -> None:
        read = _schema(spec, "TestCaseRead")

        assert {"version", "steps", "automation_key"} <= set(read["properties"])
        assert "StepRead" in _refs(read["properties"]["steps"]["items"])
