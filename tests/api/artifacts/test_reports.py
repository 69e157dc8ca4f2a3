"""`/artifacts/reports`: JSON, JUnit XML and HTML reports of a run, through HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts.report_schemas import JsonReport
from tests.api.artifacts.reporting import (
    IMPORT,
    REPORTS,
    SCREENSHOT_ID,
    SCRIPT,
    content,
    create_report,
    finished_run,
    screenshot_links,
)
from tests.api.executions.helpers import create_run, get_run
from tests.api.helpers import assert_invalid, assert_problem

COUNTS = {"passed": 1, "failed": 2, "error": 1, "skipped": 1, "total": 5}


@pytest.fixture
async def run(client: httpx.AsyncClient) -> dict[str, Any]:
    return await finished_run(client)


def nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {name: value for name, value in counters.items() if value}


async def test_a_json_report_holds_the_run_its_summary_and_every_execution(
    client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    report = await create_report(client, run["id"], "json")

    assert report["run_id"] == run["id"]
    assert report["format"] == "json"
    summary = report["summary"]
    assert summary.pop("duration_ms") == run["duration_ms"]
    assert nonzero(summary) == {**COUNTS, "pass_rate": 0.25}
    assert report["content_file_id"] is None
    response = await content(client, report["id"])
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == report["size"] == len(response.content)
    body = JsonReport.model_validate_json(response.content)
    assert body.run.id == run["id"]
    assert [(e.test_case.name.split()[0], e.attempt, e.status.value) for e in body.executions] == [
        ("Login", 1, "passed"),
        ("Checkout", 1, "failed"),
        ("Search", 1, "error"),
        ("Legacy", 1, "skipped"),
        ("Checkout", 2, "failed"),
    ]
    assert [step.duration_ms for step in body.executions[0].steps] == [400, 800]
    assert json.loads(response.content)["report_format"] == "jbts-report/1"


async def test_the_junit_report_has_a_testcase_per_execution(
    client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    report = await create_report(client, run["id"], "junit")

    response = await content(client, report["id"])
    assert response.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "2", "1")
    assert suite.get("skipped") == "1"
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("auth.LoginTest", "test_login"),
        ("nightly", f"Checkout {SCRIPT}"),
        ("nightly", "Search"),
        ("nightly", "Legacy export"),
        ("nightly", f"Checkout {SCRIPT}"),
    ]
    assert cases[0].get("time") == "1.250"
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == f"Timeout {SCRIPT}"
    assert failure.get("type") == "TimeoutError"
    assert failure.text == "at login.spec.ts:12"
    error = cases[2].find("error")
    assert error is not None
    assert error.get("message") == "browser crashed"
    assert cases[3].find("skipped") is not None
    assert cases[0].find("failure") is None


async def test_importing_the_junit_report_gives_a_run_with_the_same_counts(
    client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    report = await create_report(client, run["id"], "junit")
    exported = (await content(client, report["id"])).content

    response = await client.post(
        IMPORT, content=exported, headers={"Content-Type": "application/xml"}
    )

    assert response.status_code == 201, response.text
    imported = response.json()["run"]
    assert imported["counters"] == run["counters"]
    assert imported["status"] == run["status"] == "failed"
    assert response.json()["cases_found"] == 1  # the case with a classname::name key


async def test_a_running_run_is_reported_as_it_is(client: httpx.AsyncClient) -> None:
    cases = [
        (await client.post("/api/v1/tests", json={"name": f"case {n}"})).json()["id"]
        for n in range(2)
    ]
    running = await create_run(client, test_case_ids=cases)

    report = await create_report(client, running["id"], "junit")
    root = ElementTree.fromstring((await content(client, report["id"])).content)

    skipped = [case.find("skipped") for case in root.iter("testcase")]
    assert [s.get("message") if s is not None else None for s in skipped] == [
        "not run: queued",
        "not run: queued",
    ]
    assert nonzero(report["summary"]) == {"queued": 2, "total": 2}


async def test_the_html_report_is_self_contained_and_shows_markup_as_text(
    client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    report = await create_report(client, run["id"], "html")

    response = await content(client, report["id"])
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<script" not in page
    assert "Checkout &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Timeout &lt;script&gt;" in page
    assert 'class="pass-rate">25.0%' in page
    assert 'class="count-failed">2<' in page
    assert "width:100.0%" in page  # the durations' bar
    # The screenshot the run names does not exist: a link to where it would be, no thumbnail.
    screenshot = f"http://testserver/api/v1/artifacts/screenshots/{SCREENSHOT_ID}/content"
    assert screenshot_links(page) == {screenshot: None}  # and nothing loaded from anywhere


@pytest.mark.parametrize(
    ("fmt", "extension"), [("json", "json"), ("junit", "xml"), ("html", "html")]
)
async def test_the_content_downloads_under_a_safe_name(
    client: httpx.AsyncClient, fmt: str, extension: str
) -> None:
    run = await create_run(client, name='Nightly "EU" / ../../etc\r\n<b>')

    report = await create_report(client, run["id"], fmt)
    response = await content(client, report["id"])

    expected = f'attachment; filename="run-Nightly-EU-etc-b-{run["id"]}.{extension}"'
    assert response.headers["content-disposition"] == expected


async def test_an_unknown_run_is_refused(client: httpx.AsyncClient) -> None:
    missing = "6650a1b2c3d4e5f6a7b8c9d0"

    response = await client.post(REPORTS, json={"run_id": missing, "format": "html"})

    assert_invalid(response, "body.run_id")
    assert_invalid(await client.post(REPORTS, json={"run_id": "x"}), "body.run_id")
    assert_invalid(
        await client.post(REPORTS, json={"run_id": missing, "format": "pdf"}), "body.format"
    )


async def test_an_unknown_report_is_404(client: httpx.AsyncClient) -> None:
    missing = f"{REPORTS}/6650a1b2c3d4e5f6a7b8c9d0"

    assert_problem(await client.get(missing), 404)
    assert_problem(await client.get(f"{missing}/content"), 404)
    assert_problem(await client.delete(missing), 404)


async def test_reports_list_by_run_and_format(
    client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    other = await create_run(client, name="other")
    first = await create_report(client, run["id"], "json")
    second = await create_report(client, run["id"], "junit")
    third = await create_report(client, other["id"], "junit")

    async def listed(**query: str) -> list[str]:
        response = await client.get(REPORTS, params=query)
        assert response.status_code == 200, response.text
        assert all("content" not in item for item in response.json()["items"])
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == [third["id"], second["id"], first["id"]]
    assert await listed(order="asc") == [first["id"], second["id"], third["id"]]
    assert await listed(run_id=run["id"]) == [second["id"], first["id"]]
    assert await listed(format="junit") == [third["id"], second["id"]]
    assert await listed(run_id=run["id"], format="json") == [first["id"]]
    response = await client.get(REPORTS, params={"fields": "format"})
    assert response.json()["items"][0] == {"id": third["id"], "format": "junit"}
    got = await client.get(f"{REPORTS}/{second['id']}")
    assert got.status_code == 200
    assert got.json() == second


async def test_a_deleted_report_is_gone(
    client: httpx.AsyncClient, run: dict[str, Any], db: AsyncDatabase[Any]
) -> None:
    report = await create_report(client, run["id"], "json")

    response = await client.delete(f"{REPORTS}/{report['id']}")

    assert response.status_code == 204
    assert_problem(await client.get(f"{REPORTS}/{report['id']}"), 404)
    assert await db["test_reports"].count_documents({}) == 0
    assert (await get_run(client, run["id"]))["id"] == run["id"]  # the run stays
