"""A test case's history: its executions over time, newest first, with where each one ran.

Four round trips whatever the sizes: the case (404 when it does not exist), a page of its
executions and their count (`find_page`, which names the `test_case_id_started_at` index in a
hint), then the page's runs in one query bounded by the page's size (their name, CI metadata and
the names of the browser configuration and environment they used). Only the fields an item shows
are read: never the case snapshots, step results or stacks the executions carry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from beanie import PydanticObjectId

from api.errors import NotFound
from api.executions.params import ExecutionListParams, ExecutionSortField, HistoryParams
from api.executions.runs import runs
from api.executions.schemas import HistoryItem
from api.query import RawPage, SortOrder, find_page
from api.query.listing import selectable
from documents.executions import ExecutionStatus, TestExecution
from documents.test_defs import TestCase

CASE = "test case"
ITEM_FIELDS: tuple[str, ...] = tuple(HistoryItem.model_fields)

RUN_PATHS: Mapping[str, str] = {
    "run_name": "name",
    "branch": "branch",
    "commit": "commit",
    "browser_configuration_name": "browser_configuration.name",
    "environment_name": "environment.name",
}
"""Item fields that come from the execution's run, and where the run keeps them."""

EXECUTION_PATHS: Mapping[str, tuple[str, ...]] = {
    "id": ("_id",),
    "run_id": ("run_id",),
    **dict.fromkeys(RUN_PATHS, ("run_id",)),
    "attempt": ("attempt",),
    "status": ("status",),
    "started_at": ("started_at",),
    "finished_at": ("finished_at",),
    "duration_ms": ("duration_ms",),
    "error": ("error.message", "error.type", "error.signature"),
    "test_case_version": ("test_case.version",),
}
"""Per item field, the execution fields it is made of (a run's field: the run's id)."""

COUNTED = (ExecutionStatus.PASSED, ExecutionStatus.FAILED, ExecutionStatus.ERROR)
"""The statuses the pass rate counts: what ran to an outcome."""


class HistoryQuery(ExecutionListParams):
    """The executions query of a history page: an execution list filtered by the case, newest
    first, projected to what the chosen item fields are made of (and `status`, which the pass
    rate needs)."""

    selectable_fields: ClassVar[frozenset[str]] = selectable(HistoryItem)

    def projection(self) -> dict[str, int]:
        paths = {"_id", "status"}
        for name in self.fields or ITEM_FIELDS:
            paths.update(EXECUTION_PATHS[name])
        return dict.fromkeys(sorted(paths), 1)


@dataclass(frozen=True, slots=True)
class History:
    """One page of a case's history (its documents: items holding the chosen fields), and the
    page's pass rate."""

    page: RawPage
    pass_rate: float | None


def pass_rate(statuses: Iterable[str]) -> float | None:
    """passed / (passed + failed + error); None when there is none of those."""
    counts = Counter(statuses)
    ran = sum(counts[status.value] for status in COUNTED)
    if ran == 0:
        return None
    return round(counts[ExecutionStatus.PASSED.value] / ran, 4)


async def case_history(*, id: PydanticObjectId, params: HistoryParams) -> History:
    """The case's executions, newest first (not yet started: last), one page (404: no case)."""
    cases = TestCase.get_pymongo_collection()
    if await cases.find_one({"_id": id}, {"_id": 1}) is None:
        raise NotFound(f"{CASE} {id} does not exist")
    query = HistoryQuery(
        test_case_id=id,
        status=params.status,
        attempt=params.attempt,
        started_from=params.started_from,
        started_to=params.started_to,
        sort_by=ExecutionSortField.STARTED_AT,
        order=SortOrder.DESC,
        page=params.page,
        limit=params.limit,
        fields=params.fields,
    )
    raw = await find_page(TestExecution, query)
    chosen = ["id", *(name for name in params.fields or ITEM_FIELDS if name != "id")]
    by_id = await _runs_of(raw.documents) if set(chosen) & set(RUN_PATHS) else {}
    items = [
        _item(document, by_id.get(document.get("run_id")), chosen) for document in raw.documents
    ]
    return History(
        page=RawPage(documents=items, total=raw.total, page=raw.page, limit=raw.limit),
        pass_rate=pass_rate(document["status"] for document in raw.documents),
    )


async def _runs_of(documents: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """The runs of a page's executions by id: one query, at most a page's worth of ids."""
    ids = list(dict.fromkeys(document["run_id"] for document in documents))
    if not ids:
        return {}
    projection = dict.fromkeys(RUN_PATHS.values(), 1)
    found = await runs().find({"_id": {"$in": ids}}, projection).to_list()
    return {run["_id"]: run for run in found}


def _path(document: Mapping[str, Any] | None, path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _item(
    document: Mapping[str, Any], run: Mapping[str, Any] | None, chosen: Iterable[str]
) -> dict[str, Any]:
    """The chosen fields of an execution's history item (a run that is gone: nulls)."""
    error = document.get("error")
    values: dict[str, Any] = {
        "id": document["_id"],
        **{name: _path(run, path) for name, path in RUN_PATHS.items()},
        "error": (
            {key: error.get(key) for key in ("message", "type", "signature")}
            if isinstance(error, Mapping)
            else None
        ),
        "test_case_version": _path(document, "test_case.version"),
    }
    return {name: values[name] if name in values else document.get(name) for name in chosen}
