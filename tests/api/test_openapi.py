"""The OpenAPI document: every route, its parameters and its problem responses are described."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # schemathesis brings it
import pytest
from pydantic import BaseModel

from api.executions.schemas import ExecutionEvent, RunEvent
from api.main import create_app
from api.settings import Settings
from tests.api.helpers import PROBLEM_JSON

BROWSERS = "/api/v1/configurations/browsers"
BROWSER = "/api/v1/configurations/browsers/{id}"
ENVIRONMENTS = "/api/v1/configurations/environments"
ENVIRONMENT = "/api/v1/configurations/environments/{id}"
ROUTES = {
    BROWSERS: {"get", "post"},
    BROWSER: {"get", "patch", "delete"},
    ENVIRONMENTS: {"get", "post"},
    ENVIRONMENT: {"get", "patch", "delete"},
    "/health/live": {"get"},
    "/health/ready": {"get"},
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Problems with an extension member (RFC 9457 section 3.2), each a Problem plus its own members.
REFERENCED_REF = {"$ref": "#/components/schemas/ReferencedProblem"}
EXTENDED_PROBLEMS = {
    (BROWSER, "delete", "409"): REFERENCED_REF,
    (ENVIRONMENT, "delete", "409"): REFERENCED_REF,
}


def _problem_ref(path: str, method: str, status: str) -> dict[str, str]:
    return EXTENDED_PROBLEMS.get((path, method, status), PROBLEM_REF)


@pytest.fixture(scope="module")
async def docs_client(mongodb_uri: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that is never started: serving its docs needs no database."""
    app = create_app(Settings(mongodb_uri=mongodb_uri, mongodb_db="jbts_docs_only"))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="module")
async def spec(docs_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await docs_client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (directly, or in `allOf`/`anyOf`) to its component schema."""
    parts = [*schema.get("allOf", []), *schema.get("anyOf", [])]
    ref = schema.get("$ref") or next((part["$ref"] for part in parts if "$ref" in part), None)
    if ref is None:
        return schema
    resolved: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def _parameters(spec: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {param["name"]: param for param in spec["paths"][path]["get"]["parameters"]}


class TestRoutes:
    async def test_every_route_is_listed(self, spec: dict[str, Any]) -> None:
        for path, methods in ROUTES.items():
            assert path in spec["paths"], path
            assert set(spec["paths"][path]) == methods, path

    async def test_every_operation_has_a_summary_description_and_unique_id(
        self, spec: dict[str, Any]
    ) -> None:
        ids = [
            operation["operationId"]
            for path in ROUTES
            for operation in spec["paths"][path].values()
        ]

        assert len(ids) == len(set(ids))
        for path in ROUTES:
            for method, operation in spec["paths"][path].items():
                assert operation.get("summary"), (path, method)
                assert operation.get("description"), (path, method)

    async def test_ids_are_documented_as_object_ids(self, spec: dict[str, Any]) -> None:
        for path in (BROWSER, ENVIRONMENT):
            for operation in spec["paths"][path].values():
                [param] = [p for p in operation["parameters"] if p["name"] == "id"]
                assert param["in"] == "path"
                assert param["schema"]["pattern"] == "^[0-9a-fA-F]{24}$"


class TestListParameters:
    async def test_browser_list_documents_paging_sorting_fields_and_filters(
        self, spec: dict[str, Any]
    ) -> None:
        params = _parameters(spec, BROWSERS)

        assert set(params) == {
            "page",
            "limit",
            "order",
            "fields",
            "sort_by",
            "browser",
            "headless",
            "is_default",
            "locale",
        }
        assert all(param["in"] == "query" for param in params.values())
        assert params["limit"]["schema"]["maximum"] == 200
        assert params["page"]["schema"]["minimum"] == 1

    async def test_sort_by_lists_the_allowed_values(self, spec: dict[str, Any]) -> None:
        browsers = _resolve(spec, _parameters(spec, BROWSERS)["sort_by"]["schema"])
        environments = _resolve(spec, _parameters(spec, ENVIRONMENTS)["sort_by"]["schema"])

        assert browsers["enum"] == ["name", "browser", "created_at", "updated_at"]
        assert environments["enum"] == ["name", "created_at", "updated_at"]

    async def test_order_lists_asc_and_desc(self, spec: dict[str, Any]) -> None:
        order = _resolve(spec, _parameters(spec, BROWSERS)["order"]["schema"])

        assert order["enum"] == ["asc", "desc"]

    async def test_browser_filter_lists_the_browsers(self, spec: dict[str, Any]) -> None:
        browser = _parameters(spec, BROWSERS)["browser"]
        [array] = [s for s in browser["schema"]["anyOf"] if s.get("type") == "array"]

        assert _resolve(spec, array["items"])["enum"] == [
            "chromium",
            "chrome",
            "firefox",
            "webkit",
            "edge",
        ]
        assert browser.get("description")

    async def test_environment_list_documents_is_active(self, spec: dict[str, Any]) -> None:
        params = _parameters(spec, ENVIRONMENTS)

        assert {"page", "limit", "order", "fields", "sort_by", "is_active"} == set(params)
        assert params["is_active"].get("description")


class TestProblemResponses:
    @pytest.mark.parametrize(
        ("path", "method", "statuses"),
        [
            (BROWSERS, "get", {"422"}),
            (BROWSERS, "post", {"409", "415", "422"}),
            (BROWSER, "get", {"404", "422"}),
            (BROWSER, "patch", {"404", "409", "412", "415", "422"}),
            (BROWSER, "delete", {"404", "409", "412", "422"}),
            (ENVIRONMENTS, "get", {"422"}),
            (ENVIRONMENTS, "post", {"409", "415", "422"}),
            (ENVIRONMENT, "get", {"404", "422"}),
            (ENVIRONMENT, "patch", {"404", "409", "412", "415", "422"}),
            (ENVIRONMENT, "delete", {"404", "409", "412", "422"}),
            ("/health/ready", "get", {"503"}),
        ],
    )
    async def test_errors_reference_the_problem_schema_as_problem_json(
        self, spec: dict[str, Any], path: str, method: str, statuses: set[str]
    ) -> None:
        responses = spec["paths"][path][method]["responses"]

        assert statuses <= set(responses)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                expected = {PROBLEM_JSON: {"schema": _problem_ref(path, method, status)}}
                assert response["content"] == expected, status

    async def test_the_referenced_problem_is_a_problem_listing_references(
        self, spec: dict[str, Any]
    ) -> None:
        schemas = spec["components"]["schemas"]
        referenced = schemas["ReferencedProblem"]

        assert set(schemas["Problem"]["properties"]) < set(referenced["properties"])
        assert "references" in referenced["required"]

    async def test_every_operation_documents_503_and_with_a_body_413(
        self, spec: dict[str, Any]
    ) -> None:
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                unavailable = responses.get("503")
                assert unavailable is not None, (method, path)
                assert unavailable["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                if path.startswith("/api/v1"):
                    assert "Retry-After" in unavailable["headers"], (method, path)
                if "requestBody" in operation:
                    assert responses["413"]["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}

    async def test_the_problem_schema_has_the_rfc_9457_members(self, spec: dict[str, Any]) -> None:
        problem = spec["components"]["schemas"]["Problem"]

        assert {"type", "title", "status", "detail", "instance", "errors"} <= set(
            problem["properties"]
        )
        assert set(problem["required"]) == {"type", "title", "status"}
        field_error = spec["components"]["schemas"]["ProblemFieldError"]
        assert set(field_error["required"]) == {"location", "message"}


class TestSchemas:
    async def test_secret_values_are_documented_as_never_returned(
        self, spec: dict[str, Any]
    ) -> None:
        variable = spec["components"]["schemas"]["VariableRead"]

        assert "secret" in variable["properties"]["value"]["description"].lower()

    async def test_list_responses_are_page_envelopes(self, spec: dict[str, Any]) -> None:
        for path in (BROWSERS, ENVIRONMENTS):
            content = spec["paths"][path]["get"]["responses"]["200"]["content"]
            page = _resolve(spec, content["application/json"]["schema"])
            assert set(page["required"]) == {"items", "total", "page", "limit", "pages"}

    async def test_create_bodies_have_examples(self, spec: dict[str, Any]) -> None:
        for name in ("BrowserCreate", "EnvironmentCreate"):
            assert spec["components"]["schemas"][name].get("examples"), name


RUN_EVENTS = "/api/v1/executions/runs/{id}/events"


def _frames(stream: str) -> list[dict[str, str]]:
    """The frames of a `text/event-stream` text, each its fields (a comment as `""`)."""
    frames = []
    for block in stream.split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        frames.append(fields)
    return frames


class TestRunEvents:
    async def test_the_200_is_an_event_stream_with_an_example(self, spec: dict[str, Any]) -> None:
        operation = spec["paths"][RUN_EVENTS]["get"]
        ok = operation["responses"]["200"]
        assert ok["description"]
        assert set(ok["content"]) == {"text/event-stream"}
        media = ok["content"]["text/event-stream"]
        assert media["schema"] == {"type": "string"}
        example = media["example"]
        assert isinstance(example, str)
        assert example.endswith("\n\n")

        frames = _frames(example)
        assert frames[0] == {"retry": "2000"}
        assert {"": "keep-alive"} in frames
        events = [frame for frame in frames if "event" in frame]
        assert {frame["event"] for frame in events} == {"run", "execution"}
        models: dict[str, type[BaseModel]] = {"run": RunEvent, "execution": ExecutionEvent}
        for frame in events:  # each as the stream sends it: an id and its event's data
            assert set(frame) == {"event", "id", "data"}
            data = json.loads(frame["data"])
            model = models[frame["event"]]
            assert set(data) == set(model.model_fields), frame["event"]
            model.model_validate(data)
        assert events[-1]["event"] == "run"
        assert "Last-Event-ID" in {p["name"] for p in operation["parameters"]}


class TestDocs:
    async def test_swagger_ui_is_served(self, docs_client: httpx.AsyncClient) -> None:
        response = await docs_client.get("/docs")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in response.text


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


class TestEveryRoute:
    """What holds for every route the app has, so a new router cannot forget it."""

    async def test_has_a_summary_a_description_and_a_unique_id(self, spec: dict[str, Any]) -> None:
        operations = _operations(spec)
        ids = [operation["operationId"] for _, _, operation in operations]

        assert len(ids) == len(set(ids))
        for path, method, operation in operations:
            assert operation.get("summary"), (path, method)
            assert operation.get("description"), (path, method)

    async def test_documents_its_errors_as_problem_json_only(self, spec: dict[str, Any]) -> None:
        for path, method, operation in _operations(spec):
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    expected = {PROBLEM_JSON: {"schema": _problem_ref(path, method, status)}}
                    assert response["content"] == expected, (path, method, status)

    async def test_with_input_documents_the_422(self, spec: dict[str, Any]) -> None:
        for path, method, operation in _operations(spec):
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in operation["responses"], (path, method)

    async def test_create_bodies_have_examples(self, spec: dict[str, Any]) -> None:
        for path, method, operation in _operations(spec):
            body = operation.get("requestBody")
            if method != "post" or body is None:
                continue
            # A JSON body's schema has examples; a file (an XML report) has one as its media
            # type's `example`, beside the multipart form that carries the same file.
            assert any(
                _resolve(spec, media["schema"]).get("examples") or "example" in media
                for media in body["content"].values()
            ), (path, method)


def _published_examples(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """Every JSON example the document publishes: (where, its schema, the example)."""
    found = [
        (f"components.{name}", {"$ref": f"#/components/schemas/{name}"}, example)
        for name, schema in spec["components"]["schemas"].items()
        for example in schema.get("examples", [])
    ]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    if "json" in media_type and "example" in content and "schema" in content:
                        where = f"{method.upper()} {path} {status} {media_type}"
                        found.append((where, content["schema"], content["example"]))
    return found


def test_every_published_example_is_valid_for_its_own_schema(spec: dict[str, Any]) -> None:
    # FastAPI drops the nulls of examples when it writes the document: put back, they must be
    # there (a required nullable field), and each example must pass the schema it illustrates.
    examples = _published_examples(spec)
    assert len(examples) > 30
    invalid = []
    for where, schema, example in examples:
        validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
        invalid += [f"{where}: {error.message}" for error in validator.iter_errors(example)]
    assert invalid == []
