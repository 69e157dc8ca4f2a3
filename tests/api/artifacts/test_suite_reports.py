"""`GET /suites/{id}/report`: a report over a suite's latest runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from defusedxml import ElementTree
from fastapi import FastAPI

from api.artifacts.report_schemas import MEDIA_TYPES, SUITE_REPORT_EXAMPLE, SuiteJsonReport
from tests.api.artifacts.reporting import SCRIPT
from tests.api.executions.helpers import SUITES, create_case, create_run, create_suite
from tests.api.helpers import assert_invalid, assert_problem


@pytest.fixture
async def suite(client: httpx.AsyncClient) -> dict[str, Any]:
    """A suite of two cases with three runs: `first`, `second` and `third <script>`."""
    cases = [await create_case(client, f"case {n}") for n in range(2)]
    created = await create_suite(client, f"Smoke {SCRIPT}", [case["id"] for case in cases])
    for name in ("first", "second", f"third {SCRIPT}"):
        await create_run(client, name=name, suite_id=created["id"])
    return created


async def report(client: httpx.AsyncClient, suite_id: str, **params: Any) -> httpx.Response:
    response = await client.get(f"{SUITES}/{suite_id}/report", params=params)
    assert response.status_code == 200, response.text
    return response


async def test_the_json_report_holds_the_latest_runs_newest_first(
    client: httpx.AsyncClient, suite: dict[str, Any]
) -> None:
    response = await report(client, suite["id"], runs=2)

    assert response.headers["content-type"] == "application/json"
    body = SuiteJsonReport.model_validate_json(response.content)
    assert body.suite_id == suite["id"]
    assert [run.run.name for run in body.runs] == [f"third {SCRIPT}", "second"]
    assert [len(run.executions) for run in body.runs] == [2, 2]
    assert body.runs[0].summary.queued == 2
    disposition = f'attachment; filename="suite-Smoke-script-alert-1-script-{suite["id"]}.json"'
    assert response.headers["content-disposition"] == disposition


async def test_the_junit_report_has_a_testsuite_per_run(
    client: httpx.AsyncClient, suite: dict[str, Any]
) -> None:
    response = await report(client, suite["id"], format="junit")

    assert response.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    names = [element.get("name") for element in root.findall("testsuite")]
    assert names == [f"third {SCRIPT}", "second", "first"]
    assert root.get("tests") == "6"
    assert root.get("skipped") == "6"  # queued: not run


async def test_the_html_report_shows_every_run_escaped(
    client: httpx.AsyncClient, suite: dict[str, Any]
) -> None:
    response = await report(client, suite["id"], format="html", runs=3)

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<script" not in response.text
    assert response.text.count('<section class="run">') == 3
    assert "third &lt;script&gt;" in response.text


async def test_a_suite_without_runs_has_an_empty_report(client: httpx.AsyncClient) -> None:
    empty = await create_suite(client, "empty", [])

    body = SuiteJsonReport.model_validate_json((await report(client, empty["id"])).content)

    assert body.runs == []


async def test_an_unknown_suite_or_a_bad_count_is_refused(
    client: httpx.AsyncClient, suite: dict[str, Any]
) -> None:
    assert_problem(await client.get(f"{SUITES}/6650a1b2c3d4e5f6a7b8c9d0/report"), 404)
    url = f"{SUITES}/{suite['id']}/report"
    assert_invalid(await client.get(url, params={"runs": 0}), "query.runs")
    assert_invalid(await client.get(url, params={"runs": 51}), "query.runs")
    assert_invalid(await client.get(url, params={"format": "pdf"}), "query.format")


def test_the_documented_examples_are_valid_reports(app: FastAPI) -> None:
    """The 200 response has an example for each media type the route serves."""
    response = app.openapi()["paths"][f"{SUITES}/{{id}}/report"]["get"]["responses"]["200"]
    content = response["content"]
    served = {media_type.split(";")[0] for media_type in MEDIA_TYPES.values()}
    assert set(content) == served
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/SuiteJsonReport"}
    assert (
        content["application/json"]["example"]["suite_name"] == SUITE_REPORT_EXAMPLE["suite_name"]
    )
    # FastAPI drops the null fields of every example it publishes (it encodes the document with
    # `exclude_none`): the example as written is the one validated.
    body = SuiteJsonReport.model_validate(SUITE_REPORT_EXAMPLE)
    assert [trend.run_id for trend in body.analytics.trend] == [run.run.id for run in body.runs]
    extra = SuiteJsonReport.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    for example in extra["examples"]:  # type: ignore[union-attr]
        SuiteJsonReport.model_validate(example)
    root = ElementTree.fromstring(content["application/xml"]["example"].encode())
    assert root.tag == "testsuites"
    assert [suite.get("name") for suite in root.findall("testsuite")] == [
        run.run.name for run in body.runs
    ]
    assert content["text/html"]["example"].startswith("<!DOCTYPE html>")
