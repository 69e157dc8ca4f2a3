"""Response bodies of the analytics routes (one block per route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

# -- summary --------------------------------------------------------------------------------------


class DurationsRead(BaseModel):
    """Durations in milliseconds: median, 95th percentile (nearest rank) and longest; null when
    nothing measured has a duration."""

    p50: int | None = Field(description="The median duration (ms).")
    p95: int | None = Field(description="The 95th percentile duration (ms).")
    max: int | None = Field(description="The longest duration (ms).")


class RunsByStatus(BaseModel):
    """How many runs are in each status (every status, 0 when none)."""

    queued: int
    running: int
    passed: int
    failed: int
    error: int
    cancelled: int


class ExecutionsByStatus(BaseModel):
    """How many executions (every attempt, retries included) are in each status (every
    status, 0 when none)."""

    queued: int
    running: int
    passed: int
    failed: int
    error: int
    skipped: int
    cancelled: int


class SummaryWindow(BaseModel):
    """The runs the figures are about: those opened at or after `from` and before `to`."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", description="Start of the window (included).")
    to: datetime = Field(description="End of the window (excluded).")
    tz: str = Field(description="The IANA time zone of the trend's days.")


class RunsSummary(BaseModel):
    """The runs of the window (with case filters: the runs that executed a matching case)."""

    total: int = Field(description="How many runs.")
    by_status: RunsByStatus = Field(description="Runs by their status.")
    duration_ms: DurationsRead = Field(
        description="Durations of the finished runs that have one (from the start of their "
        "first execution to their end)."
    )


class ExecutionsSummary(BaseModel):
    """The executions of the window's runs that match the filters, every attempt counted."""

    total: int = Field(description="How many executions (attempts).")
    by_status: ExecutionsByStatus = Field(description="Executions by their status.")
    duration_ms: DurationsRead = Field(
        description="Durations of the finished executions (passed, failed, error, skipped, "
        "cancelled) that have one."
    )


class TrendDay(BaseModel):
    """One day (in the requested time zone) of the window: the runs opened that day."""

    date: str = Field(description="The day, `YYYY-MM-DD`, in `window.tz`.", examples=["2026-03-02"])
    runs: int = Field(description="How many runs were opened that day.")
    executions: ExecutionsByStatus = Field(description="Their executions by status.")
    pass_rate: float | None = Field(
        description="Pass rate of that day's runs (see `pass_rate`); null when nothing counts."
    )


SUMMARY_EXAMPLE: JsonDict = {
    "window": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "tz": "Europe/Paris"},
    "runs": {
        "total": 3,
        "by_status": {
            "queued": 0,
            "running": 0,
            "passed": 2,
            "failed": 1,
            "error": 0,
            "cancelled": 0,
        },
        "duration_ms": {"p50": 61000, "p95": 94000, "max": 94000},
    },
    "executions": {
        "total": 10,
        "by_status": {
            "queued": 0,
            "running": 0,
            "passed": 6,
            "failed": 2,
            "error": 1,
            "skipped": 1,
            "cancelled": 0,
        },
        "duration_ms": {"p50": 1200, "p95": 4800, "max": 5100},
    },
    "pass_rate": 0.75,
    "trend": [
        {
            "date": "2026-03-01",
            "runs": 0,
            "executions": {
                "queued": 0,
                "running": 0,
                "passed": 0,
                "failed": 0,
                "error": 0,
                "skipped": 0,
                "cancelled": 0,
            },
            "pass_rate": None,
        },
        {
            "date": "2026-03-02",
            "runs": 3,
            "executions": {
                "queued": 0,
                "running": 0,
                "passed": 6,
                "failed": 2,
                "error": 1,
                "skipped": 1,
                "cancelled": 0,
            },
            "pass_rate": 0.75,
        },
    ],
}


class SummaryRead(BaseModel):
    """Runs and executions of a window by status, the pass rate, durations, and a per-day trend."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    window: SummaryWindow = Field(description="The window and time zone the figures are for.")
    runs: RunsSummary
    executions: ExecutionsSummary
    pass_rate: float | None = Field(
        description="passed / (passed + failed + error) over the outcome of each case in each "
        "run, which is its latest attempt (a failure retried into a pass counts as passed); "
        "skipped, cancelled and unfinished cases are not counted; null when nothing counts. "
        "Rounded to 4 places."
    )
    trend: list[TrendDay] = Field(
        description="Every day from the window's start to its end in `window.tz`, oldest "
        "first; days without runs are zeros."
    )


# -- end of summary -------------------------------------------------------------------------------
