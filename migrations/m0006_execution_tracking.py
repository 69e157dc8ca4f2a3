"""Execution tracking: list orders for runs and executions, and what consistent counters need.

Runs and executions are written by many reporters at once. A run's counters stay exact without
transactions through a journal of the changes being written (`pending` on the run, see
`api/executions/tracking.py`), and live status resumes from the run's version stored on each
execution it changed (`run_seq`).

Forward:
- adds `pending` (empty), `recount_needed` and `cancel_requested` (false) to every run, and
  `run_seq` (1) and `attempt_key` (`run_id:test_case_id:attempt`) to every execution; not added
  to the validators (no `collMod` on every engine);
- replaces the unique index `run_id, test_case_id, attempt` with a unique index on
  `attempt_key` and a plain one on the three fields: the same guarantee, and the embedded engine
  checks a compound unique index by reading every execution on every write;
- creates the indexes of every list order (`field, _id`), alone, within a suite's runs and a
  status (runs), within a run and a case's history (executions), and `run_id, run_seq` (live
  status);
- drops `created_at`, `status_created`, `suite_created` (runs) and `created_at`, `case_started`
  (executions): the new indexes are the same with `_id` appended.

Backward restores the dropped indexes, drops the new ones and unsets the fields. Safe to re-run.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

VERSION = 6
NAME = "execution tracking"

_SORTS = ("created_at", "started_at", "duration_ms")


def _sorts(*paths: str, equal: str | None = None) -> list[IndexModel]:
    return [
        IndexModel(
            [*([(equal, ASCENDING)] if equal else []), (path, ASCENDING), ("_id", ASCENDING)],
            name=f"{equal or 'sort'}_{path}",
        )
        for path in paths
    ]


INDEXES = {
    "test_runs": [
        *_sorts(*_SORTS),
        *_sorts(*_SORTS, equal="suite_id"),
        *_sorts("created_at", equal="status"),
    ],
    "test_executions": [
        *_sorts(*_SORTS),
        *_sorts(*_SORTS, equal="run_id"),
        *_sorts(*_SORTS, equal="test_case_id"),
        IndexModel(
            [("run_id", ASCENDING), ("run_seq", ASCENDING), ("_id", ASCENDING)], name="run_seq"
        ),
        IndexModel([("attempt_key", ASCENDING)], name="attempt_key_unique", unique=True),
        IndexModel(
            [("run_id", ASCENDING), ("test_case_id", ASCENDING), ("attempt", ASCENDING)],
            name="run_case_attempt",
        ),
    ],
}
"""Per collection, the indexes this migration adds."""

DROPPED_INDEXES = {
    "test_runs": [
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
        IndexModel([("suite_id", ASCENDING), ("created_at", DESCENDING)], name="suite_created"),
        IndexModel([("created_at", DESCENDING)], name="created_at"),
    ],
    "test_executions": [
        IndexModel([("test_case_id", ASCENDING), ("started_at", DESCENDING)], name="case_started"),
        IndexModel([("created_at", DESCENDING)], name="created_at"),
        IndexModel(
            [("run_id", ASCENDING), ("test_case_id", ASCENDING), ("attempt", ASCENDING)],
            name="run_case_attempt_unique",
            unique=True,
        ),
    ],
}
"""Per collection, the indexes this migration drops (as m0001 created them)."""

_RUN_DEFAULTS: dict[str, Any] = {"pending": [], "recount_needed": False, "cancel_requested": False}
_EXECUTION_DEFAULTS: dict[str, Any] = {"run_seq": 1}
_ATTEMPT_KEY = {
    "$concat": [
        {"$toString": "$run_id"},
        ":",
        {"$toString": "$test_case_id"},
        ":",
        {"$toString": "$attempt"},
    ]
}

ADDED_FIELDS = {
    "test_runs": tuple(_RUN_DEFAULTS),
    "test_executions": (*_EXECUTION_DEFAULTS, "attempt_key"),
}
"""Per collection, the fields this migration adds (not listed in its validator)."""


async def _index_names(db: AsyncDatabase[Any], collection: str) -> set[str]:
    return {info["name"] async for info in await db[collection].list_indexes()}


async def _drop(db: AsyncDatabase[Any], indexes: dict[str, list[IndexModel]]) -> None:
    for collection, models in indexes.items():
        existing = await _index_names(db, collection)
        for model in models:
            if model.document["name"] in existing:
                await db[collection].drop_index(model.document["name"])


async def _add(db: AsyncDatabase[Any], collection: str, defaults: dict[str, Any]) -> None:
    for field, value in defaults.items():
        await db[collection].update_many({field: {"$exists": False}}, {"$set": {field: value}})


async def _remove(db: AsyncDatabase[Any], collection: str, defaults: dict[str, Any]) -> None:
    for field in defaults:
        await db[collection].update_many({field: {"$exists": True}}, {"$unset": {field: ""}})


async def forward(db: AsyncDatabase[Any]) -> None:
    await _add(db, "test_runs", _RUN_DEFAULTS)
    await _add(db, "test_executions", _EXECUTION_DEFAULTS)
    await db["test_executions"].update_many(
        {"attempt_key": {"$exists": False}}, [{"$set": {"attempt_key": _ATTEMPT_KEY}}]
    )
    # Dropped first: `run_case_attempt` has the key pattern of the unique index it replaces.
    await _drop(db, DROPPED_INDEXES)
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)


async def backward(db: AsyncDatabase[Any]) -> None:
    await _drop(db, INDEXES)
    for collection, models in DROPPED_INDEXES.items():
        await db[collection].create_indexes(models)
    await _remove(db, "test_runs", _RUN_DEFAULTS)
    await _remove(db, "test_executions", {**_EXECUTION_DEFAULTS, "attempt_key": None})
