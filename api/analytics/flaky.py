"""Flaky cases: which cases both pass and fail over a window of runs, and how often.

Per case, over the runs of the window (a case's outcome in a run is its latest attempt,
`api.analytics.stages.latest_attempts`; runs still queued or running for it are left out):

- **runs**: the runs whose outcome was passed, failed or error (skipped and cancelled ones
  say nothing about flakiness). A case with fewer than `min_runs` is not ranked.
- **retry flakiness**: `retry_flaky_runs`, the runs among those in which an attempt failed (or
  errored) and a later attempt passed (`FP`, `EEP`, also `FPF`); `retry_rate` = that / runs.
- **flip rate**: `flips`, how often the outcome changed between consecutive runs (ordered by
  when the run was opened): pass to fail or fail to pass, `error` counting as a fail, skipped and
  cancelled runs left out of the sequence (`P S F` is one flip). `flip_rate` = flips /
  (runs - 1), null below 2 runs. `PPFPP` has 2 flips: a rate of 0.5.
- **flakiness**: what ranks the cases, the larger of the two rates (a case failing once every
  other run by retries and one failing every other run outright are as flaky). A case with no
  retry-flaky run and no flip is not flaky and not listed. Ties: more flips, more retry-flaky
  runs, more runs, then by name.
- **last_outcomes**: the last `last` outcomes, oldest first, a letter per run (`P`, `F`, `E`,
  `S` skipped, `C` cancelled): skipped runs show here although flips ignore them.
- **first/last flaky run**: the first and the last run that was retry-flaky or whose outcome
  flipped from the case's previous run.

Everything is one aggregation: flips come from `$setWindowFields` with `$shift` (partitioned by
case and by whether the run counts, so skipped runs are out of the sequence).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.analytics.match import Stage, executions_stage
from api.analytics.params import AnalyticsFilters
from api.analytics.schemas import FlakyCase, FlakyCases, FlakyRun
from api.analytics.stages import COUNTED, FINISHED, flip_rate, latest_attempts
from documents.executions import ExecutionStatus

FAILING = [ExecutionStatus.FAILED.value, ExecutionStatus.ERROR.value]
LETTERS = {
    ExecutionStatus.PASSED: "P",
    ExecutionStatus.FAILED: "F",
    ExecutionStatus.ERROR: "E",
    ExecutionStatus.SKIPPED: "S",
    ExecutionStatus.CANCELLED: "C",
}


async def flaky_cases(
    *,
    filters: AnalyticsFilters,
    min_runs: int = 5,
    last: int = 10,
    limit: int = 20,
    now: datetime | None = None,
) -> FlakyCases:
    """The `limit` flakiest cases of the filtered window, most flaky first, and how many are
    flaky in all."""
    start, end = filters.window(now=now)
    first = executions_stage(filters, now=now)
    (result,) = await first.aggregate(
        *_per_run(),
        *_per_case(last=last),
        {
            "$match": {
                "runs": {"$gte": min_runs},
                "$or": [{"flips": {"$gt": 0}}, {"retry_flaky_runs": {"$gt": 0}}],
            }
        },
        *_rates(),
        {
            "$facet": {
                "total": [{"$count": "n"}],
                "items": [
                    {
                        "$sort": {
                            "flakiness": -1,
                            "flips": -1,
                            "retry_flaky_runs": -1,
                            "runs": -1,
                            "name": 1,
                            "_id": 1,
                        }
                    },
                    {"$limit": limit},
                ],
            }
        },
        fields=READ,
    ) or [{"total": [], "items": []}]
    return FlakyCases(
        from_=start,
        to=end,
        total=result["total"][0]["n"] if result["total"] else 0,
        items=[_item(item) for item in result["items"]],
    )


READ = ("run_id", "test_case_id", "attempt", "status", "run.created_at", "test_case.name")
"""The fields of an execution the pipeline reads."""


def _per_run() -> list[Stage]:
    """One document per case per run with an outcome: `counted`, `retried` (retry-flaky),
    `flipped` (its outcome differs from the case's previous counted run's)."""
    return [
        *latest_attempts(
            "run.created_at",
            "test_case.name",
            over_attempts={
                "first_failure": {
                    "$min": {"$cond": [{"$in": ["$status", FAILING]}, "$attempt", None]}
                },
                "last_pass": {
                    "$max": {
                        "$cond": [
                            {"$eq": ["$status", ExecutionStatus.PASSED.value]},
                            "$attempt",
                            None,
                        ]
                    }
                },
            },
        ),
        {"$match": {"status": {"$in": [status.value for status in FINISHED]}}},
        {
            "$set": {
                "counted": {"$in": ["$status", [status.value for status in COUNTED]]},
                "passed": {"$eq": ["$status", ExecutionStatus.PASSED.value]},
            }
        },
        {
            "$set": {
                "retried": {
                    "$and": [
                        "$counted",
                        {"$ne": [{"$ifNull": ["$first_failure", None]}, None]},
                        {"$ne": [{"$ifNull": ["$last_pass", None]}, None]},
                        {"$lt": ["$first_failure", "$last_pass"]},
                    ]
                }
            }
        },
        {
            "$setWindowFields": {
                "partitionBy": {"case": "$test_case_id", "counted": "$counted"},
                "sortBy": {"run_created_at": 1, "run_id": 1},
                "output": {"previous": {"$shift": {"output": "$passed", "by": -1}}},
            }
        },
        {
            "$set": {
                "flipped": {
                    "$and": [
                        "$counted",
                        {"$ne": [{"$ifNull": ["$previous", None]}, None]},
                        {"$ne": ["$previous", "$passed"]},
                    ]
                }
            }
        },
        {"$set": {"flaky": {"$or": ["$retried", "$flipped"]}}},
    ]


def _per_case(*, last: int) -> list[Stage]:
    """One document per case: the counts, the outcomes as letters (oldest first), the first
    and last flaky run."""
    flaky_run = {"$cond": ["$flaky", {"at": "$run_created_at", "run_id": "$run_id"}, None]}
    return [
        {"$sort": {"test_case_id": 1, "run_created_at": 1, "run_id": 1}},
        {
            "$group": {
                "_id": "$test_case_id",
                "name": {"$last": "$test_case_name"},
                "runs": {"$sum": {"$cond": ["$counted", 1, 0]}},
                "retry_flaky_runs": {"$sum": {"$cond": ["$retried", 1, 0]}},
                "flips": {"$sum": {"$cond": ["$flipped", 1, 0]}},
                "outcomes": {"$push": _letter()},
                "flaky_runs": {"$push": flaky_run},
            }
        },
        {
            "$set": {
                "last_outcomes": {
                    "$reduce": {
                        "input": {"$slice": ["$outcomes", -last]},
                        "initialValue": "",
                        "in": {"$concat": ["$$value", "$$this"]},
                    }
                },
                "flaky_runs": {
                    "$filter": {"input": "$flaky_runs", "cond": {"$ne": ["$$this", None]}}
                },
            }
        },
        {
            "$set": {
                "first_flaky_run": {"$arrayElemAt": ["$flaky_runs", 0]},
                "last_flaky_run": {"$arrayElemAt": ["$flaky_runs", -1]},
            }
        },
        # A case's arrays grow with its runs: only what the answer shows leaves the pipeline.
        {"$unset": ["outcomes", "flaky_runs"]},
    ]


def _letter() -> dict[str, Any]:
    return {
        "$switch": {
            "branches": [
                {"case": {"$eq": ["$status", status.value]}, "then": letter}
                for status, letter in LETTERS.items()
            ],
            "default": "?",
        }
    }


def _rates() -> list[Stage]:
    retry_rate = {"$round": [{"$divide": ["$retry_flaky_runs", "$runs"]}, 4]}
    return [
        {"$set": {"retry_rate": retry_rate, "flip_rate": flip_rate("flips", "runs")}},
        {"$set": {"flakiness": {"$max": ["$retry_rate", {"$ifNull": ["$flip_rate", 0]}]}}},
    ]


def _item(document: dict[str, Any]) -> FlakyCase:
    return FlakyCase(
        test_case_id=document["_id"],
        name=document["name"],
        runs=document["runs"],
        retry_flaky_runs=document["retry_flaky_runs"],
        retry_rate=document["retry_rate"],
        flips=document["flips"],
        flip_rate=document["flip_rate"],
        flakiness=document["flakiness"],
        last_outcomes=document["last_outcomes"],
        first_flaky_run=FlakyRun.model_validate(document["first_flaky_run"]),
        last_flaky_run=FlakyRun.model_validate(document["last_flaky_run"]),
    )
