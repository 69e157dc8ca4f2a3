"""Slowest cases (or steps): durations over a window of runs, and their change against the
window before.

- **Durations** (`by=case`): `duration_ms` of every execution of the case that finished as
  passed, failed or error in the window (every attempt is a duration; skipped and cancelled
  executions, and those without a duration, are left out). `by=step`: `duration_ms` of the step
  results (passed, failed or error) of those executions, per step id within its case, with the
  step's action and order in its latest run.
- **Figures**: `p95` (MongoDB's `$percentile`, `method: approximate`, as every analytics
  percentile: `api.analytics.stages`), `avg`, `max`, in whole milliseconds; `runs` (distinct
  runs with a duration) and `executions` (durations). Cases (steps) with fewer than `min_runs`
  runs are not ranked. Ranked by `metric`, the slowest first (ties by name, then step order).
- **Change**: the same metric over the previous window of the same length
  (`[from - (to - from), from)`, same filters) as `previous_ms`, and `(now - before) / before`
  as `change_ratio` (4 places) and `change` (`+35%`); null when the previous window has no
  duration of it (or its metric is 0).

One aggregation reads both windows (its `$match` spans them) and groups by window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.analytics.match import Stage, executions_stage
from api.analytics.params import AnalyticsFilters
from api.analytics.schemas import SlowBy, SlowestCases, SlowItem, SlowMetric, SlowStep
from api.analytics.stages import TIMED, duration_stats
from documents.executions import StepStatus

TIMED_STEPS = [StepStatus.PASSED.value, StepStatus.FAILED.value, StepStatus.ERROR.value]
"""The step results whose durations count (those that ran to an end)."""


READ = ("run_id", "test_case_id", "status", "duration_ms", "run.created_at", "test_case.name")
"""The fields of an execution the pipeline reads (and its step results, by step)."""


async def slowest_cases(
    *,
    filters: AnalyticsFilters,
    metric: SlowMetric = SlowMetric.P95,
    by: SlowBy = SlowBy.CASE,
    min_runs: int = 1,
    limit: int = 20,
    now: datetime | None = None,
) -> SlowestCases:
    """The `limit` slowest cases (or steps) of the filtered window by `metric`, slowest first,
    with the change against the previous window, and how many have durations in all."""
    start, end = filters.window(now=now)
    both = filters.model_copy(update={"from_": start - (end - start), "to": end})
    first = executions_stage(both)
    path = "$steps.duration_ms" if by is SlowBy.STEP else "$duration_ms"
    (result,) = await first.aggregate(
        {"$match": {"status": {"$in": [status.value for status in TIMED]}}},
        *(_steps() if by is SlowBy.STEP else []),
        {"$match": {path[1:]: {"$ne": None}}},
        {"$sort": {"run.created_at": 1, "run_id": 1}},
        *_per_window(path=path, start=start, by=by),
        *_with_change(metric=metric),
        {"$match": {"now.runs": {"$gte": min_runs}}},
        {
            "$facet": {
                "total": [{"$count": "n"}],
                "items": [
                    {"$sort": {"value": -1, "now.name": 1, "_id.case": 1, "now.order": 1}},
                    {"$limit": limit},
                ],
            }
        },
        fields=(*READ, "steps") if by is SlowBy.STEP else READ,
    ) or [{"total": [], "items": []}]
    return SlowestCases(
        from_=start,
        to=end,
        metric=metric,
        by=by,
        total=result["total"][0]["n"] if result["total"] else 0,
        items=[_item(item, by=by) for item in result["items"]],
    )


def _steps() -> list[Stage]:
    return [
        {"$unwind": "$steps"},
        {"$match": {"steps.status": {"$in": TIMED_STEPS}}},
    ]


def _per_window(*, path: str, start: datetime, by: SlowBy) -> list[Stage]:
    """One document per case (step): `now` and `before`, the figures of each window."""
    key: dict[str, Any] = {"case": "$test_case_id"}
    step_fields: dict[str, Any] = {}
    if by is SlowBy.STEP:
        key["step"] = "$steps.step_id"
        step_fields = {"action": {"$last": "$steps.action"}, "order": {"$last": "$steps.order"}}
    stats = duration_stats(path)
    return [
        {
            "$group": {
                "_id": {**key, "current": {"$gte": ["$run.created_at", start]}},
                **stats,
                "avg": {"$avg": path},
                "runs": {"$addToSet": "$run_id"},
                "executions": {"$sum": 1},
                "name": {"$last": "$test_case.name"},
                **step_fields,
            }
        },
        {
            "$group": {
                "_id": {name: f"$_id.{name}" for name in key},
                "windows": {
                    "$push": {
                        "current": "$_id.current",
                        "p95": {"$arrayElemAt": ["$percentiles", 1]},
                        "avg": "$avg",
                        "max": "$max",
                        "runs": {"$size": "$runs"},
                        "executions": "$executions",
                        "name": "$name",
                        **{name: f"${name}" for name in step_fields},
                    }
                },
            }
        },
        {
            "$set": {
                "now": _window(current=True),
                "before": _window(current=False),
            }
        },
        {"$unset": "windows"},
    ]


def _window(*, current: bool) -> dict[str, Any]:
    is_current = {"$eq": ["$$this.current", current]}
    return {"$arrayElemAt": [{"$filter": {"input": "$windows", "cond": is_current}}, 0]}


def _with_change(*, metric: SlowMetric) -> list[Stage]:
    """`value` (the metric now), `previous` (before) and `change_ratio`."""
    return [
        {"$set": {"value": f"$now.{metric.value}", "previous": f"$before.{metric.value}"}},
        {
            "$set": {
                "change_ratio": {
                    "$cond": [
                        {"$gt": [{"$ifNull": ["$previous", 0]}, 0]},
                        {
                            "$round": [
                                {
                                    "$divide": [
                                        {"$subtract": ["$value", "$previous"]},
                                        "$previous",
                                    ]
                                },
                                4,
                            ]
                        },
                        None,
                    ]
                }
            }
        },
    ]


def _item(document: dict[str, Any], *, by: SlowBy) -> SlowItem:
    now: dict[str, Any] = document["now"]
    ratio: float | None = document.get("change_ratio")
    previous = document.get("previous")
    return SlowItem(
        test_case_id=document["_id"]["case"],
        name=now["name"],
        step=SlowStep(step_id=document["_id"]["step"], action=now["action"], order=now["order"])
        if by is SlowBy.STEP
        else None,
        runs=now["runs"],
        executions=now["executions"],
        p95_ms=round(now["p95"]),
        avg_ms=round(now["avg"]),
        max_ms=round(now["max"]),
        previous_ms=None if previous is None else round(previous),
        change=None if ratio is None else f"{ratio:+.0%}",
        change_ratio=ratio,
    )
