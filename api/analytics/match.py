"""The first stage of every analytics pipeline: an indexed `$match`, and the index that serves it.

Executions carry their run's facts (`run`: suite, environment, browser configuration, branch,
trigger, `created_at`) and their case's tags (`test_case.tags`) since m0009, so one `$match` on
`test_executions` selects the executions of a window of runs. It is served by the most
selective of the indexes `ANALYTICS_KEYS` names: a case's (`test_case_id`, `run.created_at`),
else a suite's (`run.suite_id`, `run.created_at`), else a tag's (`test_case.tags`,
`run.created_at`), else the window's (`run.created_at`); the other filters are checked on the
executions that index yields. Figures about runs themselves (their statuses and durations) start
on `test_runs` with the run filters, served by the run indexes m0001 and m0006 made.

Pipelines are sent with the index as `hint`, so the index named here is the one MongoDB uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from api.analytics.params import AnalyticsFilters
from documents.executions import TestExecution, TestRun

Stage = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FirstStage:
    """A pipeline's first stage: `$match` on `collection`, served by the index `index`."""

    collection: str
    match: dict[str, Any]
    index: str

    def pipeline(self, *stages: Stage, fields: Sequence[str] = ()) -> list[Stage]:
        """`[$match, $project of fields (when given), *stages]`."""
        projection = [{"$project": dict.fromkeys(fields, 1)}] if fields else []
        return [{"$match": self.match}, *projection, *stages]

    async def aggregate(self, *stages: Stage, fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Run `[$match, *stages]` with the index as its hint; every result document.

        `fields`: the only fields of the matched documents the stages read. MongoDB works that
        out itself; the embedded engine carries whole documents (step results, case snapshots)
        through every stage unless told, measured 25% slower on the flaky cases of a year."""
        collection: AsyncCollection[dict[str, Any]] = _COLLECTIONS[self.collection]()
        cursor = await collection.aggregate(self.pipeline(*stages, fields=fields), hint=self.index)
        return await cursor.to_list()


_COLLECTIONS = {
    "test_executions": TestExecution.get_pymongo_collection,
    "test_runs": TestRun.get_pymongo_collection,
}


def executions_stage(filters: AnalyticsFilters, *, now: datetime | None = None) -> FirstStage:
    """The executions of the runs opened in the window that match every filter."""
    start, end = filters.window(now=now)
    match: dict[str, Any] = {}
    if filters.test_case_id is not None:
        match["test_case_id"] = filters.test_case_id
        index = "analytics_case"
    elif filters.suite_id is not None:
        index = "analytics_suite"
    elif filters.tags:
        index = "analytics_tags"
    else:
        index = "analytics_window"
    if filters.suite_id is not None:
        match["run.suite_id"] = filters.suite_id
    if filters.tags:
        match["test_case.tags"] = {"$in": sorted(set(filters.tags))}
    match["run.created_at"] = {"$gte": start, "$lt": end}
    match.update(_run_filters(filters, prefix="run."))
    if filters.excluded_runs:
        match["run_id"] = {"$nin": list(filters.excluded_runs)}
    return FirstStage("test_executions", match, index)


def has_case_filters(filters: AnalyticsFilters) -> bool:
    """Whether the filters select cases (which runs alone cannot tell)."""
    return filters.test_case_id is not None or bool(filters.tags)


def runs_stage(filters: AnalyticsFilters, *, now: datetime | None = None) -> FirstStage:
    """The runs opened in the window that match every run filter (the case filters, which a
    run cannot be matched on, are left to the caller: see `has_case_filters`)."""
    start, end = filters.window(now=now)
    match: dict[str, Any] = {}
    if filters.suite_id is not None:
        match["suite_id"] = filters.suite_id
        index = "suite_id_created_at"
    elif filters.environment_id is not None:
        index = "environment_created"
    elif filters.browser_configuration_id is not None:
        index = "browser_configuration_created"
    elif filters.branch is not None:
        index = "branch_created"
    else:
        index = "sort_created_at"
    leading = {
        "environment_created": "environment_id",
        "browser_configuration_created": "browser_configuration_id",
        "branch_created": "branch",
    }.get(index)
    filters_on_runs = _run_filters(filters, prefix="")
    if leading is not None:
        match[leading] = filters_on_runs.pop(leading)
    match["created_at"] = {"$gte": start, "$lt": end}
    match.update(filters_on_runs)
    if filters.excluded_runs:
        match["_id"] = {"$nin": list(filters.excluded_runs)}
    return FirstStage("test_runs", match, index)


def _run_filters(filters: AnalyticsFilters, *, prefix: str) -> dict[str, Any]:
    """The run filters other than the suite and the window, on `prefix` + the run's field."""
    match: dict[str, Any] = {}
    if filters.environment_id is not None:
        match[f"{prefix}environment_id"] = filters.environment_id
    if filters.browser_configuration_id is not None:
        match[f"{prefix}browser_configuration_id"] = filters.browser_configuration_id
    if filters.branch is not None:
        match[f"{prefix}branch"] = filters.branch
    if filters.trigger:
        match[f"{prefix}trigger"] = {"$in": sorted({trigger.value for trigger in filters.trigger})}
    return match
