"""One test case's figures over a window of runs (`GET /tests/{id}/stats`).

- **Runs and pass rate**: the case's outcome in a run is its latest attempt there
  (`latest_attempts`); the pass rate is the shared one (`api.analytics.stages.pass_rate`).
- **Flips**: those outcomes in the order the runs were opened (then by run id), keeping only the
  counted ones (passed, failed, error: skipped, cancelled and unfinished ones are left out); a
  flip is a change between passing and failing (failed or error) from one to the next. The flip
  rate is flips / (counted runs - 1), null under 2 counted runs.
- **Durations**: p50 / p95 / max of its executions that reached a verdict (passed, failed,
  error), every attempt.
- **Last failure**: its latest failed or errored execution (by when it finished, else by its
  run's opening).
- **Failing steps**: step results with status `failed` or `error`, counted per step id (each
  execution, every attempt, at most once per step), with the step's action and position as they
  were in its latest failure; the 10 most failing, then by position.

Two round trips: the case (404 when it does not exist), then one pipeline whose `$facet` computes
every figure from the case's executions of the window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import PydanticObjectId

from api.analytics.match import executions_stage
from api.analytics.params import AnalyticsFilters, WindowFilters
from api.analytics.schemas import CaseStatsRead
from api.analytics.stages import (
    COUNTED,
    TIMED,
    count_of,
    duration_stats,
    durations_of,
    flip_rate,
    latest_attempts,
    pass_rate,
)
from api.errors import NotFound
from documents.executions import ExecutionStatus, StepStatus
from documents.test_defs import TestCase

FAILING_STEPS = 10
FAILED = (ExecutionStatus.FAILED, ExecutionStatus.ERROR)
SEEN = {"$ifNull": ["$finished_at", "$run.created_at"]}
"""An execution's moment: when it finished, else when its run was opened."""


async def case_stats(
    *, id: PydanticObjectId, filters: WindowFilters, now: datetime | None = None
) -> CaseStatsRead:
    """The figures of case `id` over the runs `filters` selects (404: no such case)."""
    cases = TestCase.get_pymongo_collection()
    if await cases.find_one({"_id": id}, {"_id": 1}) is None:
        raise NotFound(f"test case {id} does not exist")
    scoped = AnalyticsFilters(**dict(filters), test_case_id=id)
    [result] = await executions_stage(scoped, now=now).aggregate(
        {
            "$facet": {
                "outcomes": [*latest_attempts(), *_outcome_counts()],
                "flips": [*latest_attempts("run.created_at"), *_flips()],
                "durations": [
                    {"$match": {"status": {"$in": [s.value for s in TIMED]}}},
                    {"$group": {"_id": None, **duration_stats()}},
                ],
                "last_failure": [
                    {"$match": {"status": {"$in": [s.value for s in FAILED]}}},
                    {"$set": {"seen": SEEN}},
                    {"$sort": {"seen": -1, "_id": -1}},
                    {"$limit": 1},
                    {
                        "$project": {
                            "_id": 0,
                            "run_id": 1,
                            "execution_id": "$_id",
                            "at": "$seen",
                            "message": "$error.message",
                            "signature": "$error.signature",
                        }
                    },
                ],
                "failing_steps": _failing_steps(),
            }
        }
    )
    outcomes = _only(result["outcomes"])
    flips = _only(result["flips"])
    last_failure = _only(result["last_failure"])
    return CaseStatsRead.model_validate(
        {
            "test_case_id": id,
            "runs": outcomes.get("runs", 0),
            "outcomes": {
                name: outcomes.get(name, 0) for name in ("passed", "failed", "error", "skipped")
            }
            | {"other": outcomes.get("other", 0)},
            "pass_rate": outcomes.get("pass_rate"),
            "flips": flips.get("flips", 0),
            "flip_rate": flips.get("flip_rate"),
            "durations": durations_of(_only(result["durations"])),
            "last_failure": {
                "message": None,
                "signature": None,
                **last_failure,
            }
            if last_failure
            else None,
            "failing_steps": result["failing_steps"],
        }
    )


def _only(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The one document a `$group` by null made, or `{}` when it had no input."""
    return documents[0] if documents else {}


def _outcome_counts() -> list[dict[str, Any]]:
    """Runs, outcomes by status (cancelled and unfinished ones as `other`), the pass rate."""
    named = [*COUNTED, ExecutionStatus.SKIPPED]
    return [
        {
            "$group": {
                "_id": None,
                "runs": {"$sum": 1},
                **{status.value: count_of(status) for status in named},
                "counted": count_of(COUNTED),
            }
        },
        {
            "$set": {
                "other": {"$subtract": ["$runs", {"$add": [f"${s.value}" for s in named]}]},
                "pass_rate": pass_rate(ExecutionStatus.PASSED.value, "counted"),
            }
        },
    ]


def _flips() -> list[dict[str, Any]]:
    """Counted outcomes in run order, each compared with the one before."""
    return [
        {"$match": {"status": {"$in": [s.value for s in COUNTED]}}},
        {"$set": {"passing": {"$eq": ["$status", ExecutionStatus.PASSED.value]}}},
        {
            "$setWindowFields": {
                "sortBy": {"run_created_at": 1, "run_id": 1},
                "output": {"before": {"$shift": {"output": "$passing", "by": -1}}},
            }
        },
        {
            "$group": {
                "_id": None,
                "counted": {"$sum": 1},
                "flips": {
                    "$sum": {
                        "$cond": [
                            {
                                "$and": [
                                    {"$ne": ["$before", None]},
                                    {"$ne": ["$before", "$passing"]},
                                ]
                            },
                            1,
                            0,
                        ]
                    }
                },
            }
        },
        {"$set": {"flip_rate": flip_rate("flips", "counted")}},
    ]


def _failing_steps() -> list[dict[str, Any]]:
    failing = [StepStatus.FAILED.value, StepStatus.ERROR.value]
    return [
        {"$match": {"steps.status": {"$in": failing}}},
        {"$set": {"seen": SEEN}},
        {"$unwind": "$steps"},
        {"$match": {"steps.status": {"$in": failing}}},
        # One per execution and step, should a step id appear twice in a result.
        {
            "$group": {
                "_id": {"execution": "$_id", "step": "$steps.step_id"},
                "seen": {"$first": "$seen"},
                "action": {"$first": "$steps.action"},
                "order": {"$first": "$steps.order"},
            }
        },
        {
            "$group": {
                "_id": "$_id.step",
                "failures": {"$sum": 1},
                "latest": {
                    "$topN": {
                        "n": 1,
                        "sortBy": {"seen": -1, "_id.execution": -1},
                        "output": {"action": "$action", "order": "$order"},
                    }
                },
            }
        },
        {"$set": {"latest": {"$first": "$latest"}}},
        {"$sort": {"failures": -1, "latest.order": 1, "_id": 1}},
        {"$limit": FAILING_STEPS},
        {
            "$project": {
                "_id": 0,
                "step_id": "$_id",
                "action": "$latest.action",
                "order": "$latest.order",
                "failures": 1,
            }
        },
    ]
