"""Response bodies of the analytics routes. Each route's models form one block below."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import ObjectIdStr
from documents.test_defs import StepAction

# --- Failures by signature (`GET /executions/analytics/failures`) ---------------------------


class FailureSort(StrEnum):
    """How failure groups are ordered: most failures first, or most recently seen first."""

    COUNT = "count"
    LAST_SEEN = "last_seen"


class FailureStatus(StrEnum):
    """The execution statuses that are failures."""

    FAILED = "failed"
    ERROR = "error"


class FailureCase(BaseModel):
    """A case a failure affected, with its name when it last failed so."""

    id: ObjectIdStr
    name: str
    count: int = Field(ge=0, description="Its failing executions with this signature.")


class FailureExample(BaseModel):
    """The most recent failure of a group, as reported."""

    message: str
    type: str | None
    execution_id: ObjectIdStr
    run_id: ObjectIdStr


class FailureGroup(BaseModel):
    """The failures that share an error signature (the normalised message)."""

    signature: str
    count: int = Field(ge=1, description="Failing executions (every attempt counts).")
    cases: int = Field(ge=1, description="Distinct test cases affected.")
    runs: int = Field(ge=1, description="Distinct runs it occurred in.")
    first_seen: datetime = Field(
        description="When its earliest failure finished (its run's opening when the runner "
        "reported no finish time)."
    )
    last_seen: datetime = Field(description="When its latest failure finished (likewise).")
    first_run_id: ObjectIdStr = Field(description="The run of its earliest failure.")
    example: FailureExample = Field(description="Its latest failure.")
    top_cases: list[FailureCase] = Field(
        description="Up to 5 affected cases, most failures first (then by name)."
    )


class FailuresRead(BaseModel):
    """Failures of the window grouped by error signature."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "signature": "TimeoutError: Timeout <n>ms exceeded waiting for #submit",
                            "count": 7,
                            "cases": 2,
                            "runs": 5,
                            "first_seen": "2026-03-02T09:00:01Z",
                            "last_seen": "2026-03-09T09:00:03Z",
                            "first_run_id": "6650f1c2a7b4e3d2c1b0a998",
                            "example": {
                                "message": "Timeout 30000ms exceeded waiting for #submit",
                                "type": "TimeoutError",
                                "execution_id": "6650f1c2a7b4e3d2c1b0a9a1",
                                "run_id": "6650f1c2a7b4e3d2c1b0a9a0",
                            },
                            "top_cases": [
                                {"id": "6650f1c2a7b4e3d2c1b0a911", "name": "Log in", "count": 5},
                                {"id": "6650f1c2a7b4e3d2c1b0a912", "name": "Check out", "count": 2},
                            ],
                        }
                    ],
                    "total": 1,
                    "failures": 7,
                }
            ]
        }
    )

    items: list[FailureGroup] = Field(description="At most `limit` groups, in the order asked.")
    total: int = Field(ge=0, description="Distinct signatures in the window.")
    failures: int = Field(ge=0, description="Failing executions in the window, in every group.")


# --- A test case's figures (`GET /tests/{id}/stats`) ----------------------------------------


class CaseOutcomes(BaseModel):
    """The case's outcome in each run (its latest attempt there), counted by status."""

    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    error: int = Field(ge=0)
    skipped: int = Field(ge=0)
    other: int = Field(ge=0, description="Cancelled, or not finished yet.")


class CaseDurations(BaseModel):
    """Durations of its executions that reached a verdict (passed, failed, error; every
    attempt), in milliseconds."""

    p50: int | None
    p95: int | None
    max: int | None


class CaseLastFailure(BaseModel):
    """Its most recent failed or errored execution."""

    run_id: ObjectIdStr
    execution_id: ObjectIdStr
    at: datetime = Field(
        description="When it finished (its run's opening when the runner reported no finish time)."
    )
    message: str | None
    signature: str | None


class FailingStep(BaseModel):
    """A step of the case that failed, with how often."""

    step_id: str
    action: StepAction = Field(description="Its action when it last failed.")
    order: int = Field(ge=0, description="Its position when it last failed (1-based).")
    failures: int = Field(ge=1, description="Executions (every attempt) in which it failed.")


class CaseStatsRead(BaseModel):
    """A test case's figures over the runs of the window."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "test_case_id": "6650f1c2a7b4e3d2c1b0a911",
                    "runs": 12,
                    "outcomes": {"passed": 9, "failed": 2, "error": 0, "skipped": 1, "other": 0},
                    "pass_rate": 0.8182,
                    "flips": 3,
                    "flip_rate": 0.3,
                    "durations": {"p50": 4210, "p95": 9800, "max": 30512},
                    "last_failure": {
                        "run_id": "6650f1c2a7b4e3d2c1b0a9a0",
                        "execution_id": "6650f1c2a7b4e3d2c1b0a9a1",
                        "at": "2026-03-09T09:00:03Z",
                        "message": "Timeout 30000ms exceeded waiting for #submit",
                        "signature": "Timeout <n>ms exceeded waiting for #submit",
                    },
                    "failing_steps": [
                        {"step_id": "3f9a1c2b7d4e", "action": "click", "order": 2, "failures": 2}
                    ],
                }
            ]
        }
    )

    test_case_id: ObjectIdStr
    runs: int = Field(ge=0, description="Runs of the window that included the case.")
    outcomes: CaseOutcomes
    pass_rate: float | None = Field(
        ge=0,
        le=1,
        description="passed / (passed + failed + error) of its outcomes; null when none counts.",
    )
    flips: int = Field(
        ge=0,
        description="Changes between passing and failing (failed or error) from one counted run "
        "to the next, in the order the runs were opened; skipped and unfinished outcomes are "
        "left out.",
    )
    flip_rate: float | None = Field(
        ge=0,
        le=1,
        description="flips / (counted runs - 1), rounded to 4 places; null under 2 counted runs.",
    )
    durations: CaseDurations
    last_failure: CaseLastFailure | None
    failing_steps: list[FailingStep] = Field(
        description="Up to 10 of its steps that failed or errored, most failures first (then by "
        "position)."
    )


# -- flaky (api.analytics.flaky) ------------------------------------------------------------------


class FlakyRun(BaseModel):
    """A run in which the case showed a flaky signal."""

    run_id: ObjectIdStr
    at: datetime = Field(description="When the run was opened.")


class FlakyCase(BaseModel):
    """A case's flakiness over the window (see `GET /executions/analytics/flaky`)."""

    test_case_id: ObjectIdStr
    name: str = Field(description="The case's name in its latest run in the window.")
    runs: int = Field(description="Runs whose outcome for the case was passed, failed or error.")
    retry_flaky_runs: int = Field(
        description="Runs in which an attempt failed (or errored) and a later attempt passed."
    )
    retry_rate: float = Field(description="`retry_flaky_runs / runs`, rounded to 4 places.")
    flips: int = Field(
        description="Changes of outcome (pass <-> fail, error counting as fail) between "
        "consecutive runs; skipped and cancelled runs are left out of the sequence."
    )
    flip_rate: float | None = Field(
        description="`flips / (runs - 1)`, rounded to 4 places; null with fewer than 2 runs."
    )
    flakiness: float = Field(
        description="What cases are ranked by: the larger of `retry_rate` and `flip_rate`."
    )
    last_outcomes: str = Field(
        description="The latest outcomes, oldest first, one letter per run: `P` passed, "
        "`F` failed, `E` error, `S` skipped, `C` cancelled.",
        examples=["PPFPPSP"],
    )
    first_flaky_run: FlakyRun = Field(
        description="The first run that was retry-flaky or whose outcome flipped."
    )
    last_flaky_run: FlakyRun = Field(
        description="The last run that was retry-flaky or whose outcome flipped."
    )


class FlakyCases(BaseModel):
    """The flakiest cases of the window, most flaky first."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-03-01T00:00:00Z",
                    "to": "2026-03-31T00:00:00Z",
                    "total": 1,
                    "items": [
                        {
                            "test_case_id": "6650f1c2a7b4e3d2c1b0a998",
                            "name": "Valid login",
                            "runs": 5,
                            "retry_flaky_runs": 1,
                            "retry_rate": 0.2,
                            "flips": 2,
                            "flip_rate": 0.5,
                            "flakiness": 0.5,
                            "last_outcomes": "PPFPP",
                            "first_flaky_run": {
                                "run_id": "6650f1c2a7b4e3d2c1b0a990",
                                "at": "2026-03-03T09:00:00Z",
                            },
                            "last_flaky_run": {
                                "run_id": "6650f1c2a7b4e3d2c1b0a991",
                                "at": "2026-03-05T09:00:00Z",
                            },
                        }
                    ],
                }
            ]
        },
    )

    from_: datetime = Field(alias="from", description="The window's start (included).")
    to: datetime = Field(description="The window's end (excluded).")
    total: int = Field(description="How many cases are flaky in the window (before `limit`).")
    items: list[FlakyCase]


# -- slowest (api.analytics.slowest) --------------------------------------------------------------


class SlowMetric(StrEnum):
    """What ranks durations: their 95th percentile, mean or maximum."""

    P95 = "p95"
    AVG = "avg"
    MAX = "max"


class SlowBy(StrEnum):
    """What is ranked: cases, or steps (by step id within their case)."""

    CASE = "case"
    STEP = "step"


class SlowStep(BaseModel):
    """The step a ranked duration is of (`by=step`)."""

    step_id: str
    action: StepAction = Field(description="The step's action in its latest run.")
    order: int = Field(description="The step's position in the case in its latest run.")


class SlowItem(BaseModel):
    """Durations of a case (or of one of its steps) over the window."""

    test_case_id: ObjectIdStr
    name: str = Field(description="The case's name in its latest run in the window.")
    step: SlowStep | None = Field(description="The step (`by=step`); null for a case.")
    runs: int = Field(description="Runs with a duration in the window.")
    executions: int = Field(description="Durations measured (every attempt counts).")
    p95_ms: int = Field(description="95th percentile of the durations.")
    avg_ms: int = Field(description="Mean of the durations.")
    max_ms: int = Field(description="Longest duration.")
    previous_ms: int | None = Field(
        description="The ranking metric over the previous window of the same length; null "
        "when it has no durations."
    )
    change: str | None = Field(
        description="The metric's change against the previous window, in whole percent "
        "(`+35%`, `-12%`); null without a previous value (or when it was 0).",
        examples=["+35%"],
    )
    change_ratio: float | None = Field(
        description="The same change as a ratio, rounded to 4 places (`0.35`)."
    )


class SlowestCases(BaseModel):
    """The slowest cases (or steps) of the window, slowest first."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-03-01T00:00:00Z",
                    "to": "2026-03-31T00:00:00Z",
                    "metric": "p95",
                    "by": "case",
                    "total": 1,
                    "items": [
                        {
                            "test_case_id": "6650f1c2a7b4e3d2c1b0a998",
                            "name": "Checkout with a saved card",
                            "step": None,
                            "runs": 12,
                            "executions": 13,
                            "p95_ms": 8100,
                            "avg_ms": 6020,
                            "max_ms": 8300,
                            "previous_ms": 6000,
                            "change": "+35%",
                            "change_ratio": 0.35,
                        }
                    ],
                }
            ]
        },
    )

    from_: datetime = Field(alias="from", description="The window's start (included).")
    to: datetime = Field(description="The window's end (excluded).")
    metric: SlowMetric
    by: SlowBy
    total: int = Field(description="How many cases (or steps) have durations (before `limit`).")
    items: list[SlowItem]
