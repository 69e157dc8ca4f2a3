"""`/artifacts/reports`: reports of a run (JSON, JUnit XML, HTML), generated and stored."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.artifacts import report_service
from api.artifacts.report_params import ReportListParams, SuiteReportParams
from api.artifacts.report_schemas import (
    MEDIA_TYPES,
    SUITE_REPORT_EXAMPLE,
    JsonReport,
    ReportCreate,
    ReportRead,
    SuiteJsonReport,
)
from api.auth.guard import Domain, requires
from api.deps import ObjectIdPath, SettingsDep, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/artifacts/reports",
    tags=["artifacts"],
    dependencies=[requires(Domain.RESULTS), Depends(require_json_body)],
    responses=problem_responses(422),
)

ReportItem = partial_model(ReportRead)

_TEXT: dict[str, Any] = {"schema": {"type": "string"}}
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": JsonReport,
        "description": "The report: `application/json` (a `JsonReport`), `application/xml` "
        "(JUnit XML) or `text/html` (one self-contained page), as an attachment.",
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="run-<name>-<run id>.<json|xml|html>"',
                "schema": {"type": "string"},
            }
        },
        "content": {"application/xml": _TEXT, "text/html": _TEXT},
    },
    **problem_responses(404),
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(415))
async def create_report(
    data: ReportCreate, request: Request, response: Response, settings: SettingsDep
) -> ReportRead:
    """Generate a report of a run (finished or still running) from the run and its executions
    with their step results, as it is now. An unknown `run_id` is a 422.

    JUnit: one `<testcase>` per execution (every attempt, in order), `classname::name` from the
    case's automation key where it has one; importing it through `POST /executions/runs/import`
    makes a run with the same counters (queued, running and cancelled executions are written as
    skipped). HTML: one self-contained page; screenshot thumbnails are embedded in it and link
    to each screenshot's content URL under the base URL this request used. The content is stored
    in the report when small, else in GridFS; either way it is read at
    `GET /artifacts/reports/{id}/content`.
    """
    report = await report_service.generate_report(
        data=data, inline_bytes=settings.report_inline_bytes, base_url=str(request.base_url)
    )
    response.headers["Location"] = request.url_for("get_report", id=str(report.id)).path
    return ReportRead.model_validate(report.model_dump(by_alias=True, exclude={"content"}))


@router.get("", response_model_exclude_unset=True)
async def list_reports(
    params: Annotated[ReportListParams, Query()],
) -> Page[ReportItem]:  # type: ignore[valid-type]
    """List reports' metadata (newest first by default), by run and format."""
    raw = await report_service.list_reports(params=params)
    return raw.to_page(ReportItem)


@router.get("/{id:item}", responses=problem_responses(404))
async def get_report(id: ObjectIdPath) -> ReportRead:
    """One report's metadata."""
    report = await report_service.get_report(id=id)
    return ReportRead.model_validate(report.model_dump(by_alias=True, exclude={"content"}))


@router.get("/{id:item}/content", response_class=Response, responses=_CONTENT_RESPONSES)
async def get_report_content(id: ObjectIdPath) -> Response:
    """The report itself, with its media type, as a download named after its run."""
    content = await report_service.get_content(id=id)
    headers = {
        "Content-Disposition": f'attachment; filename="{content.filename}"',
        "Content-Length": str(content.report.size),
    }
    media_type = MEDIA_TYPES[content.report.format]
    if content.chunks is not None:
        return StreamingResponse(content.chunks, media_type=media_type, headers=headers)
    return Response(content.inline, media_type=media_type, headers=headers)


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_report(id: ObjectIdPath) -> None:
    """Delete a report, and its GridFS file when it has one."""
    await report_service.delete_report(id=id)


suite_reports = APIRouter(
    route_class=IdempotentRoute,
    prefix="/suites",
    tags=["suites"],
    dependencies=[requires(Domain.RESULTS)],
    responses=problem_responses(422),
)

_SUITE_JUNIT_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="Smoke" tests="2" failures="1" errors="0" skipped="0" time="14.000">
  <testsuite name="nightly 412" timestamp="2026-03-03T09:00:00+00:00" tests="2" failures="1" \
errors="0" skipped="0" time="14.000">
    <properties>
      <property name="branch" value="main" />
      <property name="run_id" value="6650f1c2a7b4e3d2c1b0a990" />
    </properties>
    <testcase classname="auth.LoginTest" name="test_login" time="9.800">
      <failure message="Timeout 30000ms exceeded waiting for #submit">Timeout 30000ms exceeded \
waiting for #submit</failure>
    </testcase>
    <testcase classname="auth.LoginTest" name="test_login" time="4.200">
      <properties>
        <property name="attempt" value="2" />
      </properties>
    </testcase>
  </testsuite>
</testsuites>
"""
_SUITE_HTML_EXAMPLE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Suite Smoke: the latest 1 runs</title>
<style>...</style>
</head>
<body>
<h2>Pass rate per run</h2> ... <h2>Durations</h2> ... <h2>Flaky cases</h2> ...
<h2>Slowest cases</h2> ... <h2>Top failures</h2> ...
<section class="run"><h1>nightly 412 <span class="status passed">passed</span></h1> ...</section>
</body>
</html>
"""
_SUITE_REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SuiteJsonReport,
        "description": "The report: `application/json` (a `SuiteJsonReport`), `application/xml` "
        "(JUnit XML, a `<testsuite>` per run) or `text/html`, as an attachment named "
        "`suite-<name>-<suite id>.<ext>`.",
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="suite-<name>-<suite id>.<json|xml|html>"',
                "schema": {"type": "string"},
            }
        },
        "content": {
            # As the service writes it: every field, nulls included.
            "application/json": {
                "example": SuiteJsonReport.model_validate(SUITE_REPORT_EXAMPLE).model_dump(
                    mode="json", by_alias=True
                )
            },
            "application/xml": {**_TEXT, "example": _SUITE_JUNIT_EXAMPLE},
            "text/html": {**_TEXT, "example": _SUITE_HTML_EXAMPLE},
        },
    },
    **problem_responses(404),
}


@suite_reports.get("/{id:item}/report", response_class=Response, responses=_SUITE_REPORT_RESPONSES)
async def get_suite_report(
    id: ObjectIdPath, params: Annotated[SuiteReportParams, Query()], request: Request
) -> Response:
    """A report of the suite's latest runs (newest first, `runs` of them), each with its
    executions and their step results: made on each request, not stored."""
    report = await report_service.suite_report(id=id, params=params, base_url=str(request.base_url))
    return Response(
        report.content,
        media_type=MEDIA_TYPES[params.format],
        headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
    )
