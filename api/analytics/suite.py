"""A suite's figures over its latest runs, for `GET /suites/{id}/report`.

The window is the one those runs span (from the oldest one's opening to just after the newest
one's), with the suite as filter, leaving out the suite's other runs opened in the same
millisecond as the oldest (the report's limit may fall between them): the executions it selects
are exactly those runs'. Within it:

- the trend: per run (newest first), its pass rate by the latest attempt of each case, and its
  counted outcomes and duration;
- the durations of the runs and of their executions (p50 / p95 / max);
- the flaky cases (`api.analytics.flaky`, from 2 runs of history, or 1 when the suite has one
  run: then only retries count), the slowest (`api.analytics.slowest`, by p95, with the change
  against as many days before) and the top failure signatures (`api.analytics.failures`).

Runs spread over more than the 366 days a request may ask for are still one window here: the
number of runs bounds the work, not the days.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from beanie import PydanticObjectId
from bson import ObjectId

from api.analytics.failures import failure_groups
from api.analytics.flaky import flaky_cases
from api.analytics.match import executions_stage, runs_stage
from api.analytics.params import AnalyticsFilters
from api.analytics.schemas import (
    DurationsRead,
    SuiteAnalytics,
    SuiteDurations,
    SuiteRunTrend,
)
from api.analytics.slowest import slowest_cases
from api.analytics.stages import (
    COUNTED,
    TIMED,
    count_of,
    duration_stats,
    durations_of,
    latest_attempts,
    pass_rate,
)
from documents.executions import ExecutionStatus, TestRun

TOP = 10
"""How many flaky cases, slowest cases and failure signatures a suite report lists."""
FLAKY_HISTORY = 2
"""The runs of history a case needs to be listed as flaky in a suite report."""


def window_of(
    suite_id: PydanticObjectId, runs: Sequence[TestRun], *, left_out: tuple[ObjectId, ...] = ()
) -> AnalyticsFilters:
    """The suite's filters over the window its runs span (not bounded to 366 days), without
    the runs `left_out`."""
    opened = [run.created_at for run in runs]
    return AnalyticsFilters.model_construct(
        suite_id=suite_id,
        from_=min(opened),
        to=max(opened) + timedelta(milliseconds=1),
    ).excluding(left_out)


async def _left_out(suite_id: PydanticObjectId, runs: Sequence[TestRun]) -> tuple[ObjectId, ...]:
    """The suite's runs opened in the same millisecond as the oldest of `runs` but not among
    them: in the window of time, yet not in the report."""
    oldest = min(run.created_at for run in runs)
    cursor = (
        TestRun.get_pymongo_collection()
        .find(
            {"suite_id": suite_id, "created_at": oldest, "_id": {"$nin": [run.id for run in runs]}},
            {"_id": 1},
        )
        .hint("suite_id_created_at")
    )
    return tuple([document["_id"] async for document in cursor])


async def suite_analytics(
    *, suite_id: PydanticObjectId, runs: Sequence[TestRun], limited: bool
) -> SuiteAnalytics:
    """The suite's figures over `runs` (its latest, newest first). `limited`: the report's
    limit on runs was reached, so the suite may have runs opened in the same millisecond as the
    oldest of `runs` that the limit cut off (looked up, and left out); otherwise `runs` are all
    the suite's runs and there is nothing to look up."""
    if not runs:
        return SuiteAnalytics.empty()
    left_out = await _left_out(suite_id, runs) if limited else ()
    filters = window_of(suite_id, runs, left_out=left_out)
    trend, durations, flaky, slowest, failures = await asyncio.gather(
        _trend(filters, runs),
        _durations(filters),
        flaky_cases(
            filters=filters, min_runs=min(FLAKY_HISTORY, len(runs)), last=len(runs), limit=TOP
        ),
        slowest_cases(filters=filters, limit=TOP),
        failure_groups(filters=filters, limit=TOP),
    )
    return SuiteAnalytics(
        runs=len(runs),
        trend=trend,
        durations=durations,
        flaky=flaky,
        slowest=slowest,
        failures=failures,
    )


async def _trend(filters: AnalyticsFilters, runs: Sequence[TestRun]) -> list[SuiteRunTrend]:
    per_run = await executions_stage(filters).aggregate(
        *latest_attempts(),
        {
            "$group": {
                "_id": "$run_id",
                "passed": count_of(ExecutionStatus.PASSED),
                "failed": count_of(ExecutionStatus.FAILED),
                "error": count_of(ExecutionStatus.ERROR),
                "skipped": count_of(ExecutionStatus.SKIPPED),
                "counted": count_of(COUNTED),
            }
        },
        {"$set": {"pass_rate": pass_rate("passed", "counted")}},
        fields=("run_id", "test_case_id", "attempt", "status"),
    )
    by_run = {document["_id"]: document for document in per_run}
    trend: list[SuiteRunTrend] = []
    for run in runs:
        figures = by_run.get(run.id, {})
        trend.append(
            SuiteRunTrend(
                run_id=str(run.id),
                name=run.name,
                opened_at=run.created_at,
                status=run.status,
                pass_rate=figures.get("pass_rate"),
                passed=figures.get("passed", 0),
                failed=figures.get("failed", 0),
                error=figures.get("error", 0),
                skipped=figures.get("skipped", 0),
                duration_ms=run.duration_ms,
            )
        )
    return trend


async def _durations(filters: AnalyticsFilters) -> SuiteDurations:
    group = {"$group": {"_id": None, **duration_stats()}}
    runs, executions = await asyncio.gather(
        runs_stage(filters).aggregate(group),
        executions_stage(filters).aggregate(
            {"$match": {"status": {"$in": [status.value for status in TIMED]}}},
            group,
            fields=("status", "duration_ms"),
        ),
    )
    return SuiteDurations(
        runs=DurationsRead(**durations_of(runs[0] if runs else {})),
        executions=DurationsRead(**durations_of(executions[0] if executions else {})),
    )
