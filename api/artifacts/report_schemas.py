"""Bodies of `/artifacts/reports`, and the documented schema of a JSON report's content."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

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


_SUITE = "6650f1c2a7b4e3d2c1b0a901"
_RUN = "6650f1c2a7b4e3d2c1b0a990"
_CASE = "6650f1c2a7b4e3d2c1b0a911"
_TIMEOUT = "Timeout 30000ms exceeded waiting for #submit"
_SIGNATURE = "Timeout <n>ms exceeded waiting for #submit"
_COUNTERS: JsonDict = {
    "queued": 0,
    "running": 0,
    "passed": 1,
    "failed": 1,
    "error": 0,
    "skipped": 0,
    "cancelled": 0,
    "total": 2,
}


def _execution(
    number: int, attempt: int, status: str, started: str, finished: str, ms: int
) -> JsonDict:
    failure: JsonDict = {"message": _TIMEOUT, "type": None, "stack": None, "signature": _SIGNATURE}
    error = None if status == "passed" else failure
    return {
        "id": f"6650f1c2a7b4e3d2c1b0a9a{number}",
        "created_at": started,
        "updated_at": finished,
        "run_id": _RUN,
        "test_case_id": _CASE,
        "test_case": {
            "version": 3,
            "name": "Log in",
            "automation_key": "auth.LoginTest::test_login",
            "steps": [
                {
                    "id": "3f9a1c2b7d4e",
                    "order": 1,
                    "action": "click",
                    "selector": "#submit",
                    "value": None,
                    "description": None,
                    "expected": None,
                    "timeout_ms": 30000,
                    "optional": False,
                    "screenshot_on_failure": True,
                }
            ],
        },
        "attempt": attempt,
        "status": status,
        "started_at": started,
        "finished_at": finished,
        "duration_ms": ms,
        "error": error,
        "worker": "ci-runner-2",
        "steps": [
            {
                "step_id": "3f9a1c2b7d4e",
                "order": 1,
                "action": "click",
                "status": status,
                "started_at": started,
                "finished_at": finished,
                "duration_ms": ms,
                "error": error,
                "actual_value": None,
                "screenshot_ids": [],
            }
        ],
        "run_seq": 1,
    }


SUITE_REPORT_EXAMPLE: JsonDict = {
    "report_format": "jbts-suite-report/1",
    "generated_at": "2026-03-03T10:00:00Z",
    "suite_id": _SUITE,
    "suite_name": "Smoke",
    "analytics": {
        "runs": 1,
        "trend": [
            {
                "run_id": _RUN,
                "name": "nightly 412",
                "opened_at": "2026-03-03T09:00:00Z",
                "status": "passed",
                "pass_rate": 1.0,
                "passed": 1,
                "failed": 0,
                "error": 0,
                "skipped": 0,
                "duration_ms": 14000,
            }
        ],
        "durations": {
            "runs": {"p50": 14000, "p95": 14000, "max": 14000},
            "executions": {"p50": 4200, "p95": 9800, "max": 9800},
        },
        "flaky": {
            "from": "2026-03-03T09:00:00Z",
            "to": "2026-03-03T09:00:00.001Z",
            "total": 1,
            "items": [
                {
                    "test_case_id": _CASE,
                    "name": "Log in",
                    "runs": 1,
                    "retry_flaky_runs": 1,
                    "retry_rate": 1.0,
                    "flips": 0,
                    "flip_rate": None,
                    "flakiness": 1.0,
                    "last_outcomes": "P",
                    "first_flaky_run": {"run_id": _RUN, "at": "2026-03-03T09:00:00Z"},
                    "last_flaky_run": {"run_id": _RUN, "at": "2026-03-03T09:00:00Z"},
                }
            ],
        },
        "slowest": {
            "from": "2026-03-03T09:00:00Z",
            "to": "2026-03-03T09:00:00.001Z",
            "metric": "p95",
            "by": "case",
            "total": 1,
            "items": [
                {
                    "test_case_id": _CASE,
                    "name": "Log in",
                    "step": None,
                    "runs": 1,
                    "executions": 2,
                    "p95_ms": 9800,
                    "avg_ms": 7000,
                    "max_ms": 9800,
                    "previous_ms": None,
                    "change": None,
                    "change_ratio": None,
                }
            ],
        },
        "failures": {
            "items": [
                {
                    "signature": _SIGNATURE,
                    "count": 1,
                    "cases": 1,
                    "runs": 1,
                    "first_seen": "2026-03-03T09:00:09.800Z",
                    "last_seen": "2026-03-03T09:00:09.800Z",
                    "first_run_id": _RUN,
                    "example": {
                        "message": _TIMEOUT,
                        "type": None,
                        "execution_id": "6650f1c2a7b4e3d2c1b0a9a1",
                        "run_id": _RUN,
                    },
                    "top_cases": [{"id": _CASE, "name": "Log in", "count": 1}],
                }
            ],
            "total": 1,
            "failures": 1,
        },
    },
    "runs": [
        {
            "run": {
                "id": _RUN,
                "created_at": "2026-03-03T09:00:00Z",
                "updated_at": "2026-03-03T09:00:14Z",
                "name": "nightly 412",
                "suite_id": _SUITE,
                "trigger": "schedule",
                "status": "passed",
                "browser_configuration_id": None,
                "environment_id": None,
                "browser_configuration": None,
                "environment": None,
                "started_at": "2026-03-03T09:00:00Z",
                "finished_at": "2026-03-03T09:00:14Z",
                "duration_ms": 14000,
                "counters": _COUNTERS,
                "build_url": None,
                "commit": None,
                "branch": "main",
                "requested_by": None,
                "version": 4,
                "cancel_requested": False,
                "recount_needed": False,
            },
            "summary": {**_COUNTERS, "pass_rate": 0.5, "duration_ms": 14000},
            "executions": [
                _execution(
                    1, 1, "failed", "2026-03-03T09:00:00Z", "2026-03-03T09:00:09.800Z", 9800
                ),
                _execution(
                    2, 2, "passed", "2026-03-03T09:00:09.800Z", "2026-03-03T09:00:14Z", 4200
                ),
            ],
        }
    ],
}
"""A suite report over its latest run, in which `Log in` failed, then passed on its retry."""


class SuiteJsonReport(BaseModel):
    """The `json` report of a suite's recent runs, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUITE_REPORT_EXAMPLE]})

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
