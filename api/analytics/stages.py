"""Pipeline stages and expressions every analytics figure shares, so each is defined once.

- **Outcome of a case in a run**: its latest attempt (`latest_attempts`). A failure retried into
  a pass is a pass of the run (and a sign of flakiness, counted by the flaky route).
- **Pass rate**: passed / (passed + failed + error) of those outcomes; skipped, cancelled and
  unfinished ones are not counted either way; `null` when nothing counts (no runs, all skipped).
- **Durations**: of executions that reached a verdict (`TIMED`: passed, failed, error; a skipped
  or cancelled one did not run its steps), as p50 / p95 / max, with
  MongoDB's `$percentile` (7.0+), `method: approximate` (exact for small inputs on MongoDB; the
  nearest rank on the embedded engine).
"""

from __future__ import annotations

from typing import Any

from api.analytics.match import Stage
from documents.executions import ExecutionStatus

COUNTED = (ExecutionStatus.PASSED, ExecutionStatus.FAILED, ExecutionStatus.ERROR)
"""The outcomes a pass rate counts."""
FINISHED = (*COUNTED, ExecutionStatus.SKIPPED, ExecutionStatus.CANCELLED)
"""The outcomes that end an execution."""
TIMED = COUNTED
"""The outcomes whose durations the figures take: those of executions that ran their steps."""
PERCENTILES = (0.5, 0.95)


def latest_attempts(*keep: str, over_attempts: dict[str, Any] | None = None) -> list[Stage]:
    """One document per case per run: its latest attempt, with `status`, `run_id`,
    `test_case_id` and the fields named in `keep` (the group's `_id` is dropped), plus the
    `$group` accumulators `over_attempts` names (figures over all the case's attempts in the
    run)."""
    fields = ("run_id", "test_case_id", "status", *keep)
    return [
        {"$sort": {"run_id": 1, "test_case_id": 1, "attempt": -1}},
        {
            "$group": {
                "_id": {"run": "$run_id", "case": "$test_case_id"},
                **{name.replace(".", "_"): {"$first": f"${name}"} for name in fields},
                **(over_attempts or {}),
            }
        },
        {"$project": {"_id": 0}},
    ]


def count_of(status: ExecutionStatus | tuple[ExecutionStatus, ...]) -> dict[str, Any]:
    """A `$group` accumulator: how many documents have (one of) these statuses."""
    statuses = [status.value] if isinstance(status, ExecutionStatus) else [s.value for s in status]
    return {"$sum": {"$cond": [{"$in": ["$status", statuses]}, 1, 0]}}


def pass_rate(passed: str, counted: str) -> dict[str, Any]:
    """`passed / counted` (fields of the current document) rounded to 4 places; null for 0."""
    return {
        "$cond": [
            {"$gt": [f"${counted}", 0]},
            {"$round": [{"$divide": [f"${passed}", f"${counted}"]}, 4]},
            None,
        ]
    }


def flip_rate(flips: str, counted: str) -> dict[str, Any]:
    """`flips / (counted - 1)`: of the changes possible between `counted` consecutive outcomes,
    how many happened (fields of the current document), rounded to 4 places; null under 2."""
    return {
        "$cond": [
            {"$gte": [f"${counted}", 2]},
            {"$round": [{"$divide": [f"${flips}", {"$subtract": [f"${counted}", 1]}]}, 4]},
            None,
        ]
    }


def duration_stats(path: str = "$duration_ms") -> dict[str, dict[str, Any]]:
    """`$group` accumulators `p50`, `p95`, `max` of a duration (missing values ignored)."""
    return {
        "percentiles": {
            "$percentile": {"input": path, "p": list(PERCENTILES), "method": "approximate"}
        },
        "max": {"$max": path},
    }


def durations_of(group: dict[str, Any]) -> dict[str, int | None]:
    """`{"p50", "p95", "max"}` in whole milliseconds from a group with `duration_stats`."""
    percentiles = group.get("percentiles") or [None, None]
    return {
        "p50": _ms(percentiles[0]),
        "p95": _ms(percentiles[1]),
        "max": _ms(group.get("max")),
    }


def _ms(value: Any) -> int | None:
    return None if value is None else round(value)
