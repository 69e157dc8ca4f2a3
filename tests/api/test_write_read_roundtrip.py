"""Every document any write route can produce reads back through every read route.

One partial PATCH once stored template parameters without `description`/`default`, and from then
on every list page holding that template was a 500. This module writes with minimal bodies, the
OpenAPI examples, PATCHes of every list-of-objects field with minimal items and nulls where
allowed; then it reads everything through every GET route of `/api/v1` (plain, with `fields=`, by
id, sub-lists) and validates each body with the route's response model, and each stored document
with its Beanie document class. It checks that it exercised every write and read route, so a new
route has to be added here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import (
    CaseStatsRead,
    FailuresRead,
    FlakyCases,
    SlowestCases,
    SummaryRead,
)
from api.artifacts.log_schemas import LogEntryRead
from api.artifacts.report_schemas import JsonReport, ReportRead, SuiteJsonReport
from api.artifacts.screenshot_schemas import ScreenshotRead
from api.auth.schemas import KeyRead
from api.configurations.schemas import BrowserRead, EnvironmentRead
from api.executions.schemas import (
    ExecutionEvent,
    ExecutionRead,
    HistoryItem,
    RunEvent,
    RunRead,
)
from api.query import Page
from api.query.fields import partial_model
from api.suites.schemas import SuiteRead
from api.templates.schemas import TemplateRead
from api.test_defs.schemas import StepRead, TestCaseRead
from documents import ALL_DOCUMENTS
from tests.api.artifacts.images_samples import jpeg, png

API = "/api/v1"
BROWSERS = f"{API}/configurations/browsers"
ENVIRONMENTS = f"{API}/configurations/environments"
TESTS = f"{API}/tests"
SUITES = f"{API}/suites"
TEMPLATES = f"{API}/templates"
RUNS = f"{API}/executions/runs"
EXECUTIONS = f"{API}/executions"
IMPORT = f"{RUNS}/import"
LOGS = f"{API}/artifacts/logs"
SCREENSHOTS = f"{API}/artifacts/screenshots"
SCREENSHOT_CONTENT = f"{SCREENSHOTS}/{{id}}/content"
REPORTS = f"{API}/artifacts/reports"
KEYS = f"{API}/keys"
JUNIT_REPORTS = [
    (Path(__file__).parent.parent / "fixtures" / "junit" / name).read_bytes()
    for name in ("pytest.xml", "surefire.xml")
]
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
FINISHED_RUNS = {"passed", "failed", "error", "cancelled"}
STEPS = f"{TESTS}/{{id}}/steps"
SUITE_TESTS = f"{SUITES}/{{id}}/tests"
HISTORY = f"{TESTS}/{{id}}/history"
STATS = f"{TESTS}/{{id}}/stats"
ANALYTICS = f"{API}/executions/analytics"
# The figures of what was written, by route: each answers one document of its model.
FIGURES: dict[str, type[BaseModel]] = {
    f"{ANALYTICS}/summary": SummaryRead,
    f"{ANALYTICS}/flaky": FlakyCases,
    f"{ANALYTICS}/slowest": SlowestCases,
    f"{ANALYTICS}/failures": FailuresRead,
    STATS: CaseStatsRead,
}
# What each list holds; a list's `/{id}` route answers the same model.
READ_MODELS: dict[str, type[BaseModel]] = {
    BROWSERS: BrowserRead,
    ENVIRONMENTS: EnvironmentRead,
    TESTS: TestCaseRead,
    SUITES: SuiteRead,
    TEMPLATES: TemplateRead,
    STEPS: StepRead,
    SUITE_TESTS: TestCaseRead,
    HISTORY: HistoryItem,
    RUNS: RunRead,
    EXECUTIONS: ExecutionRead,
    LOGS: LogEntryRead,
    SCREENSHOTS: ScreenshotRead,
    REPORTS: ReportRead,
}
# `fields=` for each list: the name and every list-of-objects field.
LIST_FIELDS = {
    BROWSERS: "name,viewport,args",
    ENVIRONMENTS: "name,variables",
    TESTS: "name,steps",
    SUITES: "name,test_case_ids",
    TEMPLATES: "name,parameters,steps",
    STEPS: "action,selector",
    SUITE_TESTS: "name,steps",
    HISTORY: "run_name,status,error",
    RUNS: "name,counters,environment,browser_configuration",
    EXECUTIONS: "status,steps,test_case,error",
    LOGS: "message,context",
    SCREENSHOTS: "sha256,width,step_id",
    REPORTS: "run_id,format,summary",
}


class Api:
    """Sends requests by route template and records which templates it exercised."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.client = client
        spec = app.openapi()
        self.routes = {
            (method.upper(), path)
            for path, operations in spec["paths"].items()
            if path.startswith(API)
            for method in operations
        }
        self.examples = spec["components"]["schemas"]
        self.used: set[tuple[str, str]] = set()

    def example(self, schema: str) -> dict[str, Any]:
        found: dict[str, Any] = self.examples[schema]["examples"][0]
        return found

    async def write(
        self, method: str, template: str, body: Any = None, **path: str
    ) -> dict[str, Any]:
        self.used.add((method, template))
        response = await self.client.request(method, template.format(**path), json=body)
        assert response.status_code < 300, (method, template, body, response.text)
        return response.json() if response.content else {}

    async def import_report(self, data: bytes) -> dict[str, Any]:
        """A JUnit XML report through `POST /executions/runs/import` (an XML body)."""
        self.used.add(("POST", IMPORT))
        response = await self.client.post(
            IMPORT, content=data, headers={"Content-Type": "application/xml"}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def upload_screenshot(self, data: bytes, **fields: str) -> dict[str, Any]:
        """A screenshot through `POST /artifacts/screenshots` (a multipart body)."""
        self.used.add(("POST", SCREENSHOTS))
        response = await self.client.post(
            SCREENSHOTS, data=fields, files={"file": ("shot", data, "image/png")}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def read_content(self, id: str) -> bytes:
        self.used.add(("GET", SCREENSHOT_CONTENT))
        response = await self.client.get(SCREENSHOT_CONTENT.format(id=id))
        assert response.status_code == 200, response.text
        return response.content

    async def create_and_delete(self, collection: str, body: dict[str, Any]) -> None:
        created = await self.write("POST", collection, body)
        await self.write("DELETE", f"{collection}/{{id}}", id=created["id"])

    async def read(self, template: str, query: str = "", **path: str) -> dict[str, Any]:
        self.used.add(("GET", template))
        response = await self.client.get(template.format(**path) + query)
        assert response.status_code == 200, (template, query, response.text)
        body: dict[str, Any] = response.json()
        if template in READ_MODELS:  # a list: complete items, or the fields chosen
            model = READ_MODELS[template]
            if query.startswith("?fields="):
                chosen = {"id", *query.removeprefix("?fields=").split(",")}
                assert all(set(item) == chosen for item in body["items"]), (template, body)
                model = partial_model(model)
            Page[model].model_validate(body)  # type: ignore[valid-type]
        else:
            READ_MODELS[template.removesuffix("/{id}")].model_validate(body)
        return body

    async def read_figures(self, template: str, query: str = "", **path: str) -> None:
        """An analytics route's figures (one document of its model)."""
        self.used.add(("GET", template))
        response = await self.client.get(template.format(**path) + query)
        assert response.status_code == 200, (template, query, response.text)
        FIGURES[template].model_validate(response.json())

    async def read_keys(self) -> None:
        """API keys: a plain list (no secret in it), and each key by id."""
        self.used.update({("GET", KEYS), ("GET", f"{KEYS}/{{id}}")})
        response = await self.client.get(KEYS)
        assert response.status_code == 200, response.text
        listed = TypeAdapter(list[KeyRead]).validate_python(response.json())
        assert listed
        for key in listed:
            one = await self.client.get(f"{KEYS}/{key.id}")
            assert one.status_code == 200, one.text
            KeyRead.model_validate(one.json())

    async def read_export(self, template: str) -> None:
        """An NDJSON export: every line read by its model."""
        self.used.add(("GET", template))
        response = await self.client.get(template)
        assert response.status_code == 200, (template, response.text)
        lines = response.text.splitlines()
        assert lines
        for line in lines:
            LogEntryRead.model_validate_json(line)

    async def read_report_content(self, report: dict[str, Any]) -> None:
        """A report's content: a JSON report is read by its model, every other is not empty."""
        template = f"{REPORTS}/{{id}}/content"
        self.used.add(("GET", template))
        response = await self.client.get(template.format(id=report["id"]))
        assert response.status_code == 200, (template, response.text)
        assert len(response.content) == report["size"] > 0
        if report["format"] == "json":
            JsonReport.model_validate_json(response.content)

    async def read_suite_report(self, suite_id: str) -> None:
        """A suite's report in every format; a JSON one is read by its model."""
        template = f"{SUITES}/{{id}}/report"
        self.used.add(("GET", template))
        for report_format in ("json", "junit", "html"):
            url = template.format(id=suite_id) + f"?format={report_format}"
            response = await self.client.get(url)
            assert response.status_code == 200, (template, response.text)
            if report_format == "json":
                SuiteJsonReport.model_validate_json(response.content)

    async def read_events(self, run_id: str) -> None:
        """A finished run's whole event stream (it ends), from its first change, each event's
        data read by its model. An unfinished run's stream never ends: not read here."""
        template = f"{RUNS}/{{id}}/events"
        self.used.add(("GET", template))
        response = await self.client.get(template.format(id=run_id), headers={"Last-Event-ID": "0"})
        assert response.status_code == 200, (template, response.text)
        models: dict[str, type[BaseModel]] = {"run": RunEvent, "execution": ExecutionEvent}
        names = []
        for frame in response.text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if line[:1] != ":")
            if "data" in fields:
                models[fields["event"]].model_validate_json(fields["data"])
                names.append(fields["event"])
        assert names[-1] == "run", names


async def write_everything(api: Api) -> None:
    """Minimal and full bodies, minimal list items and nulls, through every write route."""
    browser = await api.write("POST", BROWSERS, {"name": "b-min", "browser": "chrome"})
    await api.write("POST", BROWSERS, api.example("BrowserCreate"))
    await api.write(
        "PATCH",
        f"{BROWSERS}/{{id}}",
        {"viewport": {"width": 800}, "version": None, "user_agent": None, "args": ["--x"]},
        id=browser["id"],
    )
    environment = await api.write("POST", ENVIRONMENTS, {"name": "e-min", "base_url": "http://a/"})
    full_environment = await api.write("POST", ENVIRONMENTS, api.example("EnvironmentCreate"))
    await api.write(
        "PATCH",
        f"{ENVIRONMENTS}/{{id}}",
        {"variables": [{"name": "X", "value": "1"}, {"name": "API_TOKEN", "secret": True}]},
        id=full_environment["id"],
    )
    await api.write("PATCH", f"{ENVIRONMENTS}/{{id}}", {"description": None}, id=environment["id"])
    await api.create_and_delete(BROWSERS, {"name": "x", "browser": "edge"})
    await api.create_and_delete(ENVIRONMENTS, {"name": "x", "base_url": "http://x/"})
    await api.write("POST", KEYS, api.example("KeyCreate"))
    await api.create_and_delete(KEYS, {"name": "x", "scopes": ["admin"], "expires_in_days": 1})

    case = await api.write("POST", TESTS, {"name": "t-min"})
    refs = {"browser_configuration_id": browser["id"], "environment_id": environment["id"]}
    full_case = await api.write("POST", TESTS, {**api.example("TestCaseCreate"), **refs})
    nullable = ["description", "preconditions", "expected_result", "target_url", "owner"]
    nulls = dict.fromkeys([*nullable, "automation_key", *refs], None)
    await api.write("PATCH", f"{TESTS}/{{id}}", {**nulls, "tags": []}, id=full_case["id"])
    step = await api.write("POST", STEPS, {"action": "click"}, id=case["id"])
    await api.write("POST", STEPS, {**api.example("StepInput"), "position": 1}, id=case["id"])
    step_url = f"{STEPS}/{{step_id}}"
    step_nulls = dict.fromkeys(["selector", "value", "description", "expected"], None)
    await api.write("PATCH", step_url, step_nulls, id=case["id"], step_id=step["id"])
    await api.write("PATCH", step_url, {}, id=case["id"], step_id=step["id"])
    order = [s["id"] for s in (await api.read(STEPS, id=case["id"]))["items"]][::-1]
    await api.write("PUT", f"{STEPS}/order", {"step_ids": order}, id=case["id"])
    doomed_step = await api.write("POST", STEPS, {"action": "wait"}, id=case["id"])
    await api.write("DELETE", step_url, id=case["id"], step_id=doomed_step["id"])
    await api.write("POST", f"{TESTS}/{{id}}/clone", {}, id=full_case["id"])
    doomed = await api.write("POST", TESTS, {"name": "t-doomed"})
    operations = [
        {"op": "create", "data": {"name": "t-bulk-min"}},
        {"op": "create", "data": {**api.example("TestCaseCreate"), "name": "t-bulk-full"}},
        {"op": "update", "id": case["id"], "data": {"owner": None, "tags": ["x"]}},
        {"op": "delete", "id": doomed["id"]},
    ]
    result = await api.write("POST", f"{TESTS}/bulk", {"operations": operations})
    assert result["failed"] == 0, result
    await api.create_and_delete(TESTS, {"name": "x"})

    suite = await api.write("POST", SUITES, {"name": "s-min"})
    full_suite = await api.write(
        "POST",
        SUITES,
        {**api.example("SuiteCreate"), "test_case_ids": [case["id"], full_case["id"]], **refs},
    )
    await api.write(
        "PATCH",
        f"{SUITES}/{{id}}",
        dict.fromkeys(["description", *refs], None),
        id=full_suite["id"],
    )
    members = {"test_case_ids": [full_case["id"], case["id"]]}
    await api.write("POST", f"{SUITES}/{{id}}/tests", members, id=suite["id"])
    await api.write(
        "DELETE", f"{SUITES}/{{id}}/tests", {"test_case_ids": [case["id"]]}, id=suite["id"]
    )
    await api.create_and_delete(SUITES, {"name": "x"})

    template = await api.write("POST", TEMPLATES, {"name": "tpl-min"})
    full_template = await api.write("POST", TEMPLATES, api.example("TemplateCreate"))
    await api.write(
        "PATCH",
        f"{TEMPLATES}/{{id}}",
        {"parameters": [{"name": "url"}, {"name": "username"}], "description": None},
        id=full_template["id"],
    )
    await api.write(
        "PATCH",
        f"{TEMPLATES}/{{id}}",
        {"steps": [{"action": "click"}], "category": None},
        id=template["id"],
    )
    values = {"name": "from-template", "parameters": {"url": "https://a/", "username": "u"}}
    await api.write("POST", f"{TEMPLATES}/{{id}}/instantiate", values, id=full_template["id"])
    await api.create_and_delete(TEMPLATES, {"name": "x"})

    run = await api.write("POST", RUNS, {"name": "r-min"})
    full_run = await api.write(
        "POST",
        RUNS,
        {
            **api.example("RunCreate"),
            "suite_id": full_suite["id"],
            "test_case_ids": [case["id"]],
            "environment_id": full_environment["id"],
        },
    )
    run_nulls = dict.fromkeys(["build_url", "commit", "branch", "requested_by"], None)
    await api.write("PATCH", f"{RUNS}/{{id}}", run_nulls, id=full_run["id"])
    suite_run = await api.write(
        "POST", f"{SUITES}/{{id}}/runs", api.example("SuiteRunCreate"), id=full_suite["id"]
    )
    execution = await api.write(
        "POST", EXECUTIONS, {"run_id": run["id"], "test_case_id": full_case["id"]}
    )
    first_step = execution["steps"][0]["step_id"]
    failed_step = {"step_id": first_step, "status": "failed", "error": {"message": "no #go"}}
    await api.write(
        "POST", f"{EXECUTIONS}/{{id}}/steps", {"steps": [failed_step]}, id=execution["id"]
    )
    failure = {"status": "failed", "error": {"message": "Timeout 500ms", "type": "TimeoutError"}}
    await api.write("PATCH", f"{EXECUTIONS}/{{id}}", failure, id=execution["id"])
    await api.write("POST", f"{RUNS}/{{id}}/cancel", id=suite_run["id"])
    await api.write("POST", f"{RUNS}/{{id}}/recount", id=full_run["id"])
    at = {"started_at": "2025-06-01T09:00:00Z", "finished_at": "2025-06-01T09:00:01Z"}
    full_error = {"message": "Timeout", "type": "TimeoutError", "stack": "at x", "signature": "t"}
    step_result = {
        **at,
        "step_id": full_case["steps"][0]["id"],
        "status": "failed",
        "duration_ms": 3,
        "error": full_error,
        "actual_value": "/login",
        "screenshot_ids": [],
    }
    results = [
        {"run_id": full_run["id"], "test_case_id": case["id"], "status": "passed"},
        {
            **at,
            "run_id": full_run["id"],
            "automation_key": "com.example.LoginTest.testValidLogin",  # t-bulk-full's
            "attempt": 2,
            "status": "failed",
            "duration_ms": 1000,
            "worker": "ci-7",
            "error": full_error,
        },
        {
            "run_id": full_run["id"],
            "test_case_id": full_case["id"],
            "status": "error",
            "error": {"message": "crashed"},
            "steps": [step_result],
        },
    ]
    reported = await api.write("POST", f"{EXECUTIONS}/bulk", {"results": results})
    assert reported["failed"] == 0, reported
    for junit_report in JUNIT_REPORTS:
        await api.import_report(junit_report)
    for report_format in ("json", "junit", "html"):
        await api.write("POST", REPORTS, {"run_id": full_run["id"], "format": report_format})
    await api.write("POST", REPORTS, {"run_id": run["id"]})
    await api.create_and_delete(REPORTS, {"run_id": suite_run["id"], "format": "junit"})
    await api.create_and_delete(RUNS, {"name": "x"})
    minimal = await api.upload_screenshot(png(), execution_id=execution["id"])
    await api.upload_screenshot(
        jpeg(), execution_id=execution["id"], step_id=first_step, taken_at="2025-06-01T09:00:00Z"
    )
    await api.upload_screenshot(png(), execution_id=execution["id"], step_id=first_step)
    await api.write("DELETE", f"{SCREENSHOTS}/{{id}}", id=minimal["id"])

    entries = [
        {"run_id": run["id"], "message": "m"},
        {
            **api.example("LogEntryCreate"),
            "run_id": run["id"],
            "execution_id": execution["id"],
            "timestamp": None,
        },
    ]
    logged = await api.write("POST", LOGS, {"entries": entries})
    assert logged["failed"] == 0, logged


async def test_every_written_document_reads_through_every_read_route(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    api = Api(app, client)
    await write_everything(api)

    lists = (
        BROWSERS,
        ENVIRONMENTS,
        TESTS,
        SUITES,
        TEMPLATES,
        RUNS,
        EXECUTIONS,
        SCREENSHOTS,
        REPORTS,
    )
    for collection in lists:
        page = await api.read(collection, "?limit=200")
        await api.read(collection, f"?fields={LIST_FIELDS[collection]}")
        assert page["items"]
        for item in page["items"]:
            await api.read(f"{collection}/{{id}}", id=item["id"])
            if collection == REPORTS:
                await api.read_report_content(item)
            if collection == RUNS and item["status"] in FINISHED_RUNS:
                await api.read_events(item["id"])
            if collection == SUITES:
                await api.read_suite_report(item["id"])
            if collection in (TESTS, SUITES):
                sub_list = STEPS if collection == TESTS else SUITE_TESTS
                await api.read(sub_list, id=item["id"])
                await api.read(sub_list, f"?fields={LIST_FIELDS[sub_list]}", id=item["id"])
            if collection == SCREENSHOTS:
                assert len(await api.read_content(item["id"])) == item["size"]
            if collection == TESTS:
                await api.read(HISTORY, id=item["id"])
                await api.read(HISTORY, f"?fields={LIST_FIELDS[HISTORY]}", id=item["id"])
                await api.read_figures(STATS, id=item["id"])

    await api.read(LOGS, "?limit=200")
    await api.read(LOGS, f"?fields={LIST_FIELDS[LOGS]}")
    await api.read_export(f"{LOGS}/export")

    for route in FIGURES:
        if route != STATS:
            await api.read_figures(route, "?min_runs=1" if route.endswith("flaky") else "")
    await api.read_figures(f"{ANALYTICS}/slowest", "?by=step")

    await api.read_keys()

    for document in ALL_DOCUMENTS:
        async for raw in db[document.get_collection_name()].find():
            document.model_validate(raw)
    assert {route for route in api.routes if route[0] in WRITE_METHODS} <= api.used
    assert {route for route in api.routes if route[0] == "GET"} <= api.used
