"""Bodies of `/artifacts/reports`, and the documented schema of a JSON report's content."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.analytics.schemas import SuiteAnalytics
from api.executions.schemas import CountersRead, ExecutionRead, RunRead
from api.schemas import InputModel, ObjectIdInput, ObjectIdStr, ReadModel
from documents.artifacts import ReportFormat

MEDIA_TYPES: dict[ReportFormat, str] = {
    ReportFormat.JSON: "application/json",
    ReportFormat.JUNIT: "application/xml",
    ReportFormat.HTML: "text/html; charset=utf-8",
}
"""The `Content-Type` of each format's content."""

EXTENSIONS: dict[ReportFormat, str] = {
    ReportFormat.JSON: "json",
    ReportFormat.JUNIT: "xml",
    ReportFormat.HTML: "html",
}
"""The file name extension of each format's download."""


class ReportCreate(InputModel):
    """Which run to report, and in which format."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"run_id": "6650f1c2a7b4e3d2c1b0a998", "format": "junit"}]}
    )

    run_id: ObjectIdInput = Field(description="The run (finished, or still running).")
    format: ReportFormat = Field(
        default=ReportFormat.JSON,
        description="`json` (see `JsonReport`), `junit` (JUnit XML) or `html` (one "
        "self-contained page).",
    )


class ReportSummaryRead(CountersRead):
    """The run's counters when the report was generated, its pass rate and duration."""

    pass_rate: float = Field(
        ge=0, le=1, description="passed / (passed + failed + error); 0 when none of those."
    )
    duration_ms: int | None = Field(description="The run's duration, when it has one.")


class ReportRead(ReadModel):
    """A generated report's metadata; its content is at `GET /artifacts/reports/{id}/content`."""

    run_id: ObjectIdStr
    format: ReportFormat
    summary: ReportSummaryRead
    generated_at: datetime
    size: int = Field(ge=0, description="The content's size in bytes (UTF-8).")
    content_file_id: ObjectIdStr | None = Field(
        default=None,
        description="The GridFS file (bucket `reports`) holding a content too large to keep "
        "inline; null when the content is stored in the report itself.",
    )


class JsonReport(BaseModel):
    """The content of a `json` report: the run, its summary and every execution (oldest first),
    each with its steps' results."""

    report_format: Literal["jbts-report/1"] = Field(
        default="jbts-report/1", description="This schema and its version."
    )
    generated_at: datetime
    run: RunRead
    summary: ReportSummaryRead
    executions: list[ExecutionRead]


class SuiteRunReport(BaseModel):
    """One run of a suite report: the run, its summary and its executions."""

    run: RunRead
    summary: ReportSummaryRead
    executions: list[ExecutionRead]


class SuiteJsonReport(BaseModel):
    """The `json` report of a suite's recent runs, newest first."""

    report_format: Literal["jbts-suite-report/1"] = Field(
        default="jbts-suite-report/1", description="This schema and its version."
    )
    generated_at: datetime
    suite_id: ObjectIdStr
    suite_name: str
    analytics: SuiteAnalytics = Field(
        description="Figures over these runs: pass rate per run, durations, the flaky and the "
        "slowest cases, the top failure signatures."
    )
    runs: list[SuiteRunReport]
