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
    """Durations of its finished executions (every attempt), in milliseconds."""

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
