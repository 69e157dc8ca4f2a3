"""Failures grouped by error signature: what broke, how often, since when, and where.

A failure is an execution of the window (`executions_stage`) whose status is `failed` or `error`
and that has an `error.signature` (every failure reported through the API has one: see
`api.executions.signature`). Every attempt counts: a failure retried into a pass still happened.
Its moment is when it finished, or its run's opening when the runner reported no finish time.

One round trip: group by signature and case, then by signature, then a `$facet` gives the page
of groups in the order asked and the totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from api.analytics.match import Stage, executions_stage
from api.analytics.params import FAILURES_LIMIT, AnalyticsFilters
from api.analytics.schemas import FailureGroup, FailureSort, FailuresRead, FailureStatus

TOP_CASES = 5
"""Affected cases listed per group."""

SEEN = {"$ifNull": ["$finished_at", "$run.created_at"]}
"""A failure's moment: when it finished, else when its run was opened."""

ORDER: dict[FailureSort, dict[str, int]] = {
    FailureSort.COUNT: {"count": -1, "last_seen": -1, "_id": 1},
    FailureSort.LAST_SEEN: {"last_seen": -1, "count": -1, "_id": 1},
}
"""Ties are broken by the other key, then by the signature, so the order is deterministic."""


READ = (
    "run_id",
    "test_case_id",
    "status",
    "error.message",
    "error.type",
    "error.signature",
    "finished_at",
    "run.created_at",
    "test_case.name",
)
"""The fields of an execution the pipeline reads."""


async def failure_groups(
    *,
    filters: AnalyticsFilters,
    sort: FailureSort = FailureSort.COUNT,
    limit: int = FAILURES_LIMIT,
    statuses: Sequence[FailureStatus] | None = None,
    now: datetime | None = None,
) -> FailuresRead:
    """The failures of the executions `filters` selects, grouped by signature: the first
    `limit` groups in `sort` order, and how many groups and failures there are in all."""
    wanted = sorted({status.value for status in statuses or FailureStatus})
    stage = executions_stage(filters, now=now)
    [result] = await stage.aggregate(
        {"$match": {"status": {"$in": wanted}, "error.signature": {"$type": "string"}}},
        *_by_signature(),
        {
            "$facet": {
                "items": [{"$sort": ORDER[sort]}, {"$limit": limit}],
                "totals": [
                    {"$group": {"_id": None, "total": {"$sum": 1}, "failures": {"$sum": "$count"}}}
                ],
            }
        },
        fields=READ,
    )
    totals = result["totals"][0] if result["totals"] else {"total": 0, "failures": 0}
    return FailuresRead(
        items=[_group(document) for document in result["items"]],
        total=totals["total"],
        failures=totals["failures"],
    )


def _by_signature() -> list[Stage]:
    """One document per signature (`_id`): counts, first and last failure, top cases."""
    moment = {"seen": "$seen", "run_id": "$run_id", "execution_id": "$_id"}
    return [
        {
            "$project": {
                "signature": "$error.signature",
                "test_case_id": 1,
                "run_id": 1,
                "name": "$test_case.name",
                "message": "$error.message",
                "type": "$error.type",
                "seen": SEEN,
            }
        },
        {
            "$group": {
                "_id": {"signature": "$signature", "case": "$test_case_id"},
                "count": {"$sum": 1},
                "runs": {"$addToSet": "$run_id"},
                "first": _extreme(1, moment),
                "last": _extreme(
                    -1, {**moment, "name": "$name", "message": "$message", "type": "$type"}
                ),
            }
        },
        {"$set": {"first": {"$first": "$first"}, "last": {"$first": "$last"}}},
        {
            "$group": {
                "_id": "$_id.signature",
                "count": {"$sum": "$count"},
                "cases": {"$sum": 1},
                "runs": {"$push": "$runs"},
                "first": {
                    "$topN": {
                        "n": 1,
                        "sortBy": {"first.seen": 1, "first.execution_id": 1},
                        "output": "$first",
                    }
                },
                "last": {
                    "$topN": {
                        "n": 1,
                        "sortBy": {"last.seen": -1, "last.execution_id": -1},
                        "output": "$last",
                    }
                },
                "top_cases": {
                    "$topN": {
                        "n": TOP_CASES,
                        "sortBy": {"count": -1, "last.name": 1, "_id.case": 1},
                        "output": {"id": "$_id.case", "name": "$last.name", "count": "$count"},
                    }
                },
            }
        },
        {
            "$set": {
                "runs": {
                    "$size": {
                        "$reduce": {
                            "input": "$runs",
                            "initialValue": [],
                            "in": {"$setUnion": ["$$value", "$$this"]},
                        }
                    }
                },
                "first": {"$first": "$first"},
                "last": {"$first": "$last"},
                "last_seen": {"$first": "$last.seen"},
            }
        },
    ]


def _extreme(direction: int, output: dict[str, Any]) -> dict[str, Any]:
    """A `$group` accumulator: `[output]` of the earliest (1) or latest (-1) failure, ties
    broken by the execution's id."""
    return {"$topN": {"n": 1, "sortBy": {"seen": direction, "_id": direction}, "output": output}}


def _group(document: dict[str, Any]) -> FailureGroup:
    first, last = document["first"], document["last"]
    return FailureGroup.model_validate(
        {
            "signature": document["_id"],
            "count": document["count"],
            "cases": document["cases"],
            "runs": document["runs"],
            "first_seen": first["seen"],
            "last_seen": last["seen"],
            "first_run_id": first["run_id"],
            "example": {
                "message": last["message"],
                "type": last.get("type"),
                "execution_id": last["execution_id"],
                "run_id": last["run_id"],
            },
            "top_cases": document["top_cases"],
        }
    )
