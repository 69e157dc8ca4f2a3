"""Every list shape the API accepts is served by an index, in order, without a sort in memory.

A shape is a list resource, the filters a request sets (any combination) and a `sort_by` in
either direction. For each, the index `find_page` names must exist in the migrated database and
must fit the shape: zero or more of the shape's equality filters, then the sort field, then
`_id`. On a real MongoDB (`MONGODB_URI`), `explain` of the same query shows neither a `SORT`
stage nor a `COLLSCAN`. Full-text search (`q`) is outside this rule: its matches come from the
text index, and relevance is computed per match.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest
from beanie import Document
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts.log_params import LogListParams
from api.artifacts.report_params import ReportListParams
from api.artifacts.screenshot_schemas import ScreenshotListParams
from api.configurations.params import BrowserListParams, EnvironmentListParams
from api.executions.history import HistoryQuery
from api.executions.params import ExecutionListParams, RunListParams
from api.query import CursorListParams, ListParams, SortOrder
from api.query.listing import _filter_spec, list_index
from api.suites.params import SuiteListParams, SuiteTestListParams
from api.templates.params import TemplateListParams
from api.test_defs.params import TestCaseListParams
from documents import (
    BrowserConfiguration,
    LogEntry,
    TestCase,
    TestEnvironment,
    TestExecution,
    TestReport,
    TestRun,
    TestSuite,
    TestTemplate,
)
from documents.artifacts import Screenshot

LISTS: dict[type[ListParams], type[Document]] = {
    TestCaseListParams: TestCase,
    SuiteListParams: TestSuite,
    TemplateListParams: TestTemplate,
    BrowserListParams: BrowserConfiguration,
    EnvironmentListParams: TestEnvironment,
    RunListParams: TestRun,
    ExecutionListParams: TestExecution,
    HistoryQuery: TestExecution,  # a case's history: an execution list with its own projection
    LogListParams: LogEntry,
    ScreenshotListParams: Screenshot,
    ReportListParams: TestReport,
}
"""Every list endpoint's parameters and the collection it lists."""

NOT_FIND_PAGE = {SuiteTestListParams}

"""Lists that are not a filtered query: a suite's cases are looked up by id, a page at a time."""

# A value for every filter parameter of every list (a new filter needs one here).
SAMPLE: dict[str, str] = {
    "status": "active",
    "priority": "high",
    "tags": "smoke",
    "owner": "qa",
    "browser_configuration_id": "6650a1b2c3d4e5f6a7b8c9d0",
    "environment_id": "6650a1b2c3d4e5f6a7b8c9d1",
    "created_from": "2026-01-01T00:00:00Z",
    "created_to": "2026-12-31T00:00:00Z",
    "updated_from": "2026-01-01T00:00:00Z",
    "updated_to": "2026-12-31T00:00:00Z",
    "category": "auth",
    "browser": "chrome",
    "headless": "true",
    "is_default": "false",
    "locale": "en-US",
    "is_active": "true",
    "suite_id": "6650a1b2c3d4e5f6a7b8c9d2",
    "trigger": "ci",
    "branch": "main",
    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "run_id": "6650a1b2c3d4e5f6a7b8c9d3",
    "test_case_id": "6650a1b2c3d4e5f6a7b8c9d4",
    "attempt": "2",
    "signature": "TimeoutError: Timeout <n>ms exceeded",
    "started_from": "2026-01-01T00:00:00Z",
    "started_to": "2026-12-31T00:00:00Z",
    "execution_id": "6650a1b2c3d4e5f6a7b8c9d5",
    "source": "browser",
    "from_": "2026-01-01T00:00:00Z",
    "to": "2026-12-31T00:00:00Z",
    "step_id": "a1b2c3d4e5f6",
    "format": "junit",
}
# Where a filter's sample differs per list (a run's or an execution's status).
SAMPLE_FOR: dict[type[ListParams], dict[str, str]] = {
    RunListParams: {"status": "running"},
    ExecutionListParams: {"status": "failed"},
    HistoryQuery: {"status": "failed"},
}


BASES = {CursorListParams}
"""Bases a list's parameters derive from, not lists themselves."""


def _all_subclasses(cls: type[ListParams]) -> Iterator[type[ListParams]]:
    """The API's lists (tests define their own on test collections, e.g. tests/api/test_cursor)."""
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("api.") and sub not in BASES:
            yield sub
        yield from _all_subclasses(sub)


def filters(params: type[ListParams]) -> list[str]:
    return [name for name, info in params.model_fields.items() if _filter_spec(info) is not None]


def sort_fields(params: type[ListParams]) -> list[str]:
    annotation: Any = params.model_fields["sort_by"].annotation
    return [member.value for member in annotation]


def every_combination(names: list[str]) -> Iterator[tuple[str, ...]]:
    for size in range(len(names) + 1):
        yield from itertools.combinations(names, size)


def shapes(
    params: type[ListParams],
    combinations: Callable[[list[str]], Iterable[tuple[str, ...]]] = every_combination,
) -> Iterator[ListParams]:
    """The combinations of filters (all of them by default), with every sort in both directions."""
    for chosen in combinations(filters(params)):
        for sort_by in sort_fields(params):
            for order in SortOrder:
                samples = {**SAMPLE, **SAMPLE_FOR.get(params, {})}
                query = {name: samples[name] for name in chosen}
                yield params.model_validate({**query, "sort_by": sort_by, "order": order})


def index_keys(document: type[Document], name: str) -> list[str]:
    [index] = [i for i in document.Settings.indexes if i.document["name"] == name]
    return list(index.document["key"])


def test_every_list_is_checked_here() -> None:
    assert set(_all_subclasses(ListParams)) == set(LISTS) | NOT_FIND_PAGE


@pytest.mark.parametrize("params", list(LISTS), ids=lambda p: p.__name__)
def test_every_filter_has_a_sample_value(params: type[ListParams]) -> None:
    assert set(filters(params)) <= set(SAMPLE)


@pytest.mark.parametrize("params", list(LISTS), ids=lambda p: p.__name__)
def test_every_shape_has_an_index_in_sort_order(params: type[ListParams]) -> None:
    document = LISTS[params]
    checked = 0
    for shape in shapes(params):
        name = list_index(document, shape)
        assert name is not None, f"no index serves {shape!r}"
        keys = index_keys(document, name)
        sort = [path for path, _ in shape.sort()]
        equality = shape.equality_paths()
        assert keys[len(keys) - len(sort) :] == sort, (shape, name)
        assert set(keys[: len(keys) - len(sort)]) <= equality, (shape, name)
        checked += 1
    assert checked >= 2 * len(sort_fields(params))


def test_an_equality_filter_leads_the_index_where_one_exists() -> None:
    active = TestCaseListParams.model_validate({"status": "active", "sort_by": "name"})
    anyone = TestCaseListParams.model_validate({"sort_by": "name"})

    assert index_keys(TestCase, list_index(TestCase, active) or "") == ["status", "name", "_id"]
    assert index_keys(TestCase, list_index(TestCase, anyone) or "") == ["name", "_id"]


def test_priority_sorts_by_its_stored_rank() -> None:
    shape = TestCaseListParams.model_validate({"sort_by": "priority", "order": "asc"})

    assert shape.sort() == [("priority_rank", 1), ("_id", 1)]


async def test_the_named_indexes_exist_in_the_migrated_database(db: AsyncDatabase[Any]) -> None:
    for params, document in LISTS.items():
        existing = {info["name"] async for info in await db[document.Settings.name].list_indexes()}
        used = {list_index(document, shape) for shape in shapes(params)}
        assert used <= existing, params.__name__


def _stages(plan: Mapping[str, Any]) -> Iterator[str]:
    yield plan.get("stage", "")
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), Mapping):
            yield from _stages(plan[key])
    for child in plan.get("inputStages", []):
        yield from _stages(child)


def none_each_and_all(names: list[str]) -> list[tuple[str, ...]]:
    """No filter, each filter alone and all together: what `explain` is asked about."""
    return [(), *((name,) for name in names), tuple(names)]


@pytest.mark.real_mongodb
@pytest.mark.parametrize("params", list(LISTS), ids=lambda p: p.__name__)
async def test_mongodb_plans_have_no_sort_and_no_collection_scan(
    db: AsyncDatabase[Any], params: type[ListParams]
) -> None:
    document = LISTS[params]
    collection = db[document.Settings.name]
    for shape in shapes(params, none_each_and_all):
        cursor = collection.find(shape.mongo_filter(), sort=shape.sort(), limit=shape.limit)
        hint = list_index(document, shape)
        assert hint is not None
        explained = await cursor.hint(hint).explain()
        stages = set(_stages(explained["queryPlanner"]["winningPlan"]))
        assert not stages & {"SORT", "COLLSCAN"}, (shape, stages)
