"""Indexes that give every list its order, and a stored rank for sorting test cases by priority.

Every list sorts by one field, then `_id` (equal values page deterministically). Until now no
index ended in both, so MongoDB sorted every match in memory on every page; and sorting cases by
priority computed a rank per document, which no index can serve.

Forward:
- stores `priority_rank` (0 low .. 3 critical) on every test case, derived from `priority` (the
  API keeps it in step on every write); not added to the validator (no `collMod` on every engine);
- creates one index per sortable field, `field, _id` (read backwards for the other direction),
  and for test cases the same after `status`, the filter lists use most;
- drops the single-field `created_at`/`updated_at` indexes and `status_priority_updated`, which
  the new ones supersede (they are prefixes of them, or serve no list any longer);
- drops `_capability_probe`, which the capability probe of earlier versions wrote to (the probe
  no longer writes).

Backward restores the dropped indexes, drops the new ones and unsets `priority_rank`. Safe to
re-run: existing indexes are left as they are, missing ones are not dropped.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

VERSION = 5
NAME = "list sort indexes"

_PRIORITIES = ("low", "medium", "high", "critical")  # in rank order
_CASE_SORTS = ("created_at", "updated_at", "name", "priority_rank", "status")


def _sorts(*paths: str, equal: str | None = None) -> list[IndexModel]:
    return [
        IndexModel(
            [*([(equal, ASCENDING)] if equal else []), (path, ASCENDING), ("_id", ASCENDING)],
            name=f"{equal or 'sort'}_{path}",
        )
        for path in paths
    ]


_DEFAULT_SORTS = ("name", "created_at", "updated_at")

INDEXES = {
    "test_cases": [*_sorts(*_CASE_SORTS), *_sorts(*_CASE_SORTS, equal="status")],
    "test_suites": _sorts(*_DEFAULT_SORTS),
    "test_templates": _sorts(*_DEFAULT_SORTS),
    "browser_configurations": _sorts("name", "browser", "created_at", "updated_at"),
    "test_environments": _sorts(*_DEFAULT_SORTS),
}
"""Per collection, the indexes this migration adds."""

DROPPED_INDEXES = {
    "test_cases": [
        IndexModel(
            [("status", ASCENDING), ("priority", ASCENDING), ("updated_at", DESCENDING)],
            name="status_priority_updated",
        ),
        IndexModel([("updated_at", DESCENDING)], name="updated_at"),
        IndexModel([("created_at", DESCENDING)], name="created_at"),
    ],
    "test_suites": [
        IndexModel([("updated_at", DESCENDING)], name="updated_at"),
        IndexModel([("created_at", DESCENDING)], name="created_at"),
    ],
    "test_templates": [IndexModel([("created_at", DESCENDING)], name="created_at")],
}
"""Per collection, the indexes this migration drops (as earlier migrations created them)."""

ADDED_FIELDS = {"test_cases": "priority_rank"}
"""Per collection, the field this migration adds (not listed in its validator)."""

PROBE_COLLECTION = "_capability_probe"


async def _index_names(db: AsyncDatabase[Any], collection: str) -> set[str]:
    return {info["name"] async for info in await db[collection].list_indexes()}


async def _drop(db: AsyncDatabase[Any], indexes: dict[str, list[IndexModel]]) -> None:
    for collection, models in indexes.items():
        existing = await _index_names(db, collection)
        for model in models:
            if model.document["name"] in existing:
                await db[collection].drop_index(model.document["name"])


async def forward(db: AsyncDatabase[Any]) -> None:
    cases = db["test_cases"]
    for rank, priority in enumerate(_PRIORITIES):
        await cases.update_many(
            {"priority": priority, "priority_rank": {"$ne": rank}},
            {"$set": {"priority_rank": rank}},
        )
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
    await _drop(db, DROPPED_INDEXES)
    await db.drop_collection(PROBE_COLLECTION)


async def backward(db: AsyncDatabase[Any]) -> None:
    for collection, models in DROPPED_INDEXES.items():
        await db[collection].create_indexes(models)
    await _drop(db, INDEXES)
    await db["test_cases"].update_many(
        {"priority_rank": {"$exists": True}}, {"$unset": {"priority_rank": ""}}
    )
