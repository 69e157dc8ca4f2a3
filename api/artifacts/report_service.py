"""Reports: generated from a run and its executions, stored inline or in GridFS, read, deleted.

A report is rendered from the run as it is when asked (finished or still running) and its
executions, read with one cursor in bounded batches in creation order (`run_id_created_at`: the
order needs no sort in memory). A run holds at most about 10,000 executions, so its report is
bounded too; the rendering (CPU work) runs in a worker thread, not on the event loop. An HTML
report embeds thumbnails of its screenshots (`api.artifacts.thumbnails`, made before rendering)
and links them under the base URL of the request that asked for it (a stored report keeps the
base URL it was generated with).

Storage: content up to `Settings.report_inline_bytes` (UTF-8) is the document's `content`; a
larger one is a file of the GridFS bucket `reports`, named by `content_file_id`. The file is
written before the document that names it, and deleted after it: an interruption can leave an
unreferenced file (which storage statistics count as an orphan), never a report whose content
is missing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from api.analytics.schemas import SuiteAnalytics
from api.analytics.suite import suite_analytics
from api.artifacts import thumbnails
from api.artifacts.buckets import Removed
from api.artifacts.render.common import summary_of
from api.artifacts.render.html import (
    Screenshots,
    render_html,
    render_html_runs,
    section,
    shown_screenshots,
)
from api.artifacts.render.junit import render_junit, render_junit_runs
from api.artifacts.report_params import ReportListParams, SuiteReportParams
from api.artifacts.report_schemas import (
    EXTENSIONS,
    JsonReport,
    ReportCreate,
    ReportSummaryRead,
    SuiteJsonReport,
    SuiteRunReport,
)
from api.errors import InvalidInput, NotFound
from api.executions import tracking
from api.executions.schemas import ExecutionRead, RunRead
from api.query import RawPage, find_page
from api.query.crud import get_or_404, insert
from documents.artifacts import REPORT_BUCKET, ReportFormat, ReportSummary, TestReport
from documents.base import utcnow
from documents.executions import TestExecution, TestRun
from documents.test_defs import TestSuite

REPORT = "report"
BUCKET = REPORT_BUCKET
READ_BATCH = 500
"""Executions per batch of the cursor a report reads them with."""
CHUNK_BYTES = 255 * 1024
"""GridFS chunk size, and the size of the pieces a stored content is streamed in."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_LIST_FIELDS = ["run_id", "format", "summary", "generated_at", "size", "content_file_id"]
_LIST_FIELDS += ["created_at", "updated_at"]


def bucket() -> AsyncGridFSBucket:
    database = TestReport.get_pymongo_collection().database
    return AsyncGridFSBucket(database, bucket_name=BUCKET, chunk_size_bytes=CHUNK_BYTES)


# -- generating -----------------------------------------------------------------------------------


async def run_executions(run_id: PydanticObjectId) -> AsyncIterator[TestExecution]:
    """The run's executions, oldest first, read in batches of `READ_BATCH`."""
    cursor = (
        TestExecution.get_pymongo_collection()
        .find({"run_id": run_id}, sort=[("created_at", 1), ("_id", 1)], batch_size=READ_BATCH)
        .hint("run_id_created_at")
    )
    async for raw in cursor:
        yield TestExecution.model_validate(raw)


def render(
    report_format: ReportFormat,
    run: TestRun,
    executions: list[TestExecution],
    *,
    summary: ReportSummary,
    generated_at: Any,
    screenshots: Screenshots | None = None,
) -> str:
    """The content of a report (CPU only: no database). HTML needs `screenshots`."""
    if report_format is ReportFormat.JUNIT:
        return render_junit(run, executions)
    if report_format is ReportFormat.HTML:
        assert screenshots is not None, "an HTML report needs its screenshots' links"
        return render_html(
            run, executions, summary=summary, generated_at=generated_at, screenshots=screenshots
        )
    return JsonReport(
        generated_at=generated_at,
        run=RunRead.of(run),
        summary=ReportSummaryRead.model_validate(summary.model_dump()),
        executions=[ExecutionRead.of(execution) for execution in executions],
    ).model_dump_json(indent=2)


async def screenshots_of(
    report_format: ReportFormat, executions: list[TestExecution], *, base_url: str
) -> Screenshots | None:
    """For an HTML report, the thumbnails of the screenshots it shows and where they link;
    None for the other formats (which make none)."""
    if report_format is not ReportFormat.HTML:
        return None
    made = await thumbnails.thumbnails(shown_screenshots(executions))
    return Screenshots(base_url=base_url, thumbnails=made)


async def generate_report(*, data: ReportCreate, inline_bytes: int, base_url: str) -> TestReport:
    """Render and store a report of the run; an HTML report links its screenshots under
    `base_url` (the service's, ending in `/`)."""
    stored = await TestRun.get(data.run_id)
    if stored is None:
        raise InvalidInput.at("body.run_id", f"run {data.run_id} does not exist")
    run = await tracking.observed(stored)
    assert run.id is not None
    executions = [execution async for execution in run_executions(run.id)]
    summary = summary_of(run)
    screenshots = await screenshots_of(data.format, executions, base_url=base_url)
    generated_at = utcnow()
    content = await asyncio.to_thread(
        render,
        data.format,
        run,
        executions,
        summary=summary,
        generated_at=generated_at,
        screenshots=screenshots,
    )
    encoded = content.encode()
    report = TestReport(
        run_id=run.id,
        format=data.format,
        summary=summary,
        generated_at=generated_at,
        size=len(encoded),
    )
    if len(encoded) <= inline_bytes:
        report.content = content
        return await insert(report, label=REPORT)
    report.id = PydanticObjectId()
    file_id = await bucket().upload_from_stream(
        f"{report.id}.{EXTENSIONS[data.format]}",
        encoded,
        metadata={"report_id": report.id, "run_id": run.id, "format": data.format.value},
    )
    report.content_file_id = PydanticObjectId(file_id)
    try:
        return await insert(report, label=REPORT)
    except BaseException:
        await bucket().delete(file_id)
        raise


# -- a suite's recent runs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteReport:
    """A suite report's content (not stored: made on each request) and its download name."""

    content: str
    filename: str


def render_suite(
    report_format: ReportFormat,
    suite: TestSuite,
    runs: list[tuple[TestRun, list[TestExecution]]],
    *,
    analytics: SuiteAnalytics,
    generated_at: Any,
    screenshots: Screenshots | None = None,
) -> str:
    """The content of a suite report (CPU only: no database). HTML needs `screenshots`."""
    if report_format is ReportFormat.JUNIT:
        return render_junit_runs(suite.name, runs)
    if report_format is ReportFormat.HTML:
        assert screenshots is not None, "an HTML report needs its screenshots' links"
        sections = [section(run, executions, summary_of(run)) for run, executions in runs]
        title = f"Suite {suite.name}: the latest {len(runs)} runs"
        return render_html_runs(
            title, sections, generated_at=generated_at, screenshots=screenshots, analytics=analytics
        )
    return SuiteJsonReport(
        generated_at=generated_at,
        suite_id=str(suite.id),
        suite_name=suite.name,
        analytics=analytics,
        runs=[
            SuiteRunReport(
                run=RunRead.of(run),
                summary=ReportSummaryRead.model_validate(summary_of(run).model_dump()),
                executions=[ExecutionRead.of(execution) for execution in executions],
            )
            for run, executions in runs
        ],
    ).model_dump_json(indent=2, by_alias=True)


async def suite_report(
    *, id: PydanticObjectId, params: SuiteReportParams, base_url: str
) -> SuiteReport:
    """A report of the suite's latest `params.runs` runs (newest first), each with its
    executions; an HTML report links its screenshots under `base_url`."""
    suite = await get_or_404(TestSuite, id, label="test suite")
    latest = (
        TestRun.get_pymongo_collection()
        .find({"suite_id": id}, sort=[("created_at", -1), ("_id", -1)], limit=params.runs)
        .hint("suite_id_created_at")
    )
    runs: list[tuple[TestRun, list[TestExecution]]] = []
    async for raw in latest:
        run = await tracking.observed(TestRun.model_validate(raw))
        assert run.id is not None
        runs.append((run, [execution async for execution in run_executions(run.id)]))
    # JUnit XML has no place for figures: they are computed for the json and html reports.
    analytics = (
        SuiteAnalytics.empty()
        if params.format is ReportFormat.JUNIT
        else await suite_analytics(
            suite_id=id, runs=[run for run, _ in runs], limited=len(runs) >= params.runs
        )
    )
    shown = [execution for _, executions in runs for execution in executions]
    screenshots = await screenshots_of(params.format, shown, base_url=base_url)
    content = await asyncio.to_thread(
        render_suite,
        params.format,
        suite,
        runs,
        analytics=analytics,
        generated_at=utcnow(),
        screenshots=screenshots,
    )
    name = _UNSAFE.sub("-", suite.name).strip("-")[:80].strip("-")
    middle = f"{name}-" if name else ""
    return SuiteReport(content, f"suite-{middle}{id}.{EXTENSIONS[params.format]}")


# -- reading --------------------------------------------------------------------------------------


async def get_report(*, id: PydanticObjectId) -> TestReport:
    """The report's metadata (its content, inline or not, is not read)."""
    raw = await TestReport.get_pymongo_collection().find_one({"_id": id}, {"content": 0})
    if raw is None:
        raise NotFound(f"{REPORT} {id} does not exist")
    report: TestReport = TestReport.model_validate(raw)
    return report


async def list_reports(*, params: ReportListParams) -> RawPage:
    """A page of reports' metadata: without `fields=`, every field but the content."""
    if params.fields is None:
        params = params.model_copy(update={"fields": _LIST_FIELDS})
    return await find_page(TestReport, params)


@dataclass(frozen=True, slots=True)
class Content:
    """A report's content: `inline`, else `chunks` streams the GridFS file."""

    report: TestReport
    filename: str
    inline: bytes | None
    chunks: AsyncIterator[bytes] | None


def download_name(run: TestRun | None, report: TestReport) -> str:
    """`run-<name>-<run id>.<ext>`, the name reduced to words of `A-Za-z0-9_` joined by `-`."""
    name = _UNSAFE.sub("-", run.name if run is not None else "").strip("-")[:80].strip("-")
    middle = f"{name}-" if name else ""
    return f"run-{middle}{report.run_id}.{EXTENSIONS[report.format]}"


async def get_content(*, id: PydanticObjectId) -> Content:
    report = await get_or_404(TestReport, id, label=REPORT)
    run = await TestRun.get(report.run_id)
    filename = download_name(run, report)
    if report.content_file_id is None:
        return Content(report, filename, (report.content or "").encode(), None)
    try:
        stream = await bucket().open_download_stream(report.content_file_id)
    except NoFile as exc:
        raise NotFound(f"the content of {REPORT} {id} is missing from GridFS") from exc

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while piece := await stream.readchunk():
                yield piece
        finally:
            await stream.close()

    return Content(report, filename, None, chunks())


# -- deleting -------------------------------------------------------------------------------------


async def delete_report(*, id: PydanticObjectId) -> Removed:
    """Delete the report, then its GridFS file (if it has one)."""
    raw = await TestReport.get_pymongo_collection().find_one_and_delete(
        {"_id": id}, projection={"content_file_id": 1}
    )
    if raw is None:
        raise NotFound(f"{REPORT} {id} does not exist")
    return Removed(documents=1) + await _delete_file(raw.get("content_file_id"))


async def _delete_file(file_id: PydanticObjectId | None) -> Removed:
    if file_id is None:
        return Removed()
    stored = await _files().find_one({"_id": file_id}, projection={"length": 1})
    with suppress(NoFile):  # already gone: nothing to free
        await bucket().delete(file_id)
        return Removed(files=1, bytes=int(stored.get("length", 0)) if stored else 0)
    return Removed()


def _files() -> Any:
    return TestReport.get_pymongo_collection().database[f"{BUCKET}.files"]


async def delete_run_reports(*, run_id: PydanticObjectId) -> Removed:
    """Delete every stored report of a run, with its GridFS file (for a run's deletion and
    pruning): how many, and the files and bytes freed."""
    removed = Removed()
    async for found in TestReport.get_pymongo_collection().find(
        {"run_id": run_id}, projection={"_id": 1}
    ):
        try:
            removed += await delete_report(id=found["_id"])
        except NotFound:
            continue  # deleted meanwhile
    return removed


async def count_run_reports(*, run_id: PydanticObjectId) -> Removed:
    """What `delete_run_reports` would remove now (a dry run)."""
    counted = Removed()
    async for found in TestReport.get_pymongo_collection().find(
        {"run_id": run_id}, projection={"content_file_id": 1}
    ):
        counted += Removed(documents=1)
        if found.get("content_file_id") is not None:
            stored = await _files().find_one({"_id": found["content_file_id"]}, {"length": 1})
            if stored is not None:
                counted += Removed(files=1, bytes=int(stored.get("length", 0)))
    return counted
