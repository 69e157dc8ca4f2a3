"""Response bodies of the analytics routes (each route's classes in its own block)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.analytics.params import SlowBy, SlowMetric
from api.schemas import ObjectIdStr
from documents.test_defs import StepAction

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
