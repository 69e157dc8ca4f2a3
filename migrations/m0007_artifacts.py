"""Artifacts: the list orders of log entries and screenshots, and a log retention that follows
the settings.

Log entries are listed by `timestamp`, then `_id`, alone, within a run or within an execution
(`GET /artifacts/logs`, and its NDJSON export), often with thousands of lines per run;
screenshots by `taken_at`, then `_id`, the same ways; reports by `generated_at`, then `_id`,
alone and within a run.

Forward:
- creates the indexes of those orders (`timestamp, _id`, `run_id, timestamp, _id`,
  `execution_id, timestamp, _id`; `taken_at, _id`, `run_id, taken_at, _id`,
  `execution_id, taken_at, _id`; `generated_at, _id`, `run_id, generated_at, _id`);
- drops `run_timestamp`, `execution_timestamp` (log entries), `execution_taken` (screenshots),
  `run_generated` and `generated_at` (reports), from m0001: the new indexes replace them.

Backward drops the new indexes, restores the dropped ones, and gives the TTL index m0001's 30
days back. Safe to re-run.

Retention (`reconcile`): entries expire `JBTS_LOG_RETENTION_DAYS` days after their `timestamp`,
through the TTL index `ttl_timestamp`. A migration's `forward` takes only the database and is the
same wherever it runs, so the days a deployment chose are not a step of it: the migration runner
calls `reconcile(db, settings)` of every applied migration that has one after each `up` (also when
nothing was pending), and this one makes the TTL index's `expireAfterSeconds` the setting's:
`collMod` where the deployment has it, else the index is dropped and created again (the embedded
engine has no `collMod`; meanwhile nothing expires, which loses nothing). Changing the setting
and running `jbts migrate up` therefore applies the new value.
"""

from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

VERSION = 7
NAME = "artifacts"

LOGS = "log_entries"
SCREENSHOTS = "screenshots"
REPORTS = "test_reports"
TTL_INDEX = "ttl_timestamp"
DEFAULT_RETENTION_SECONDS = 30 * 24 * 60 * 60
"""m0001's retention: what `backward` restores."""
DAY_SECONDS = 24 * 60 * 60


def _sorts(path: str, *, equal: str | None = None) -> IndexModel:
    return IndexModel(
        [*([(equal, ASCENDING)] if equal else []), (path, ASCENDING), ("_id", ASCENDING)],
        name=f"{equal or 'sort'}_{path}",
    )


INDEXES = {
    LOGS: [
        _sorts("timestamp"),
        _sorts("timestamp", equal="execution_id"),
        _sorts("timestamp", equal="run_id"),
    ],
    SCREENSHOTS: [
        _sorts("taken_at"),
        _sorts("taken_at", equal="execution_id"),
        _sorts("taken_at", equal="run_id"),
    ],
    REPORTS: [_sorts("generated_at"), _sorts("generated_at", equal="run_id")],
}
"""Per collection, the indexes this migration adds."""

DROPPED_INDEXES = {
    LOGS: [
        IndexModel(
            [("execution_id", ASCENDING), ("timestamp", ASCENDING)], name="execution_timestamp"
        ),
        IndexModel([("run_id", ASCENDING), ("timestamp", ASCENDING)], name="run_timestamp"),
    ],
    SCREENSHOTS: [
        IndexModel([("execution_id", ASCENDING), ("taken_at", ASCENDING)], name="execution_taken"),
    ],
    REPORTS: [
        IndexModel([("run_id", ASCENDING), ("generated_at", DESCENDING)], name="run_generated"),
        IndexModel([("generated_at", DESCENDING)], name="generated_at"),
    ],
}
"""Per collection, the indexes this migration drops (as m0001 created them)."""


class RetentionSettings(Protocol):
    """What `reconcile` reads of the service's settings (`api.settings.Settings`)."""

    @property
    def log_retention_days(self) -> int: ...


def ttl_index(seconds: int) -> IndexModel:
    return IndexModel([("timestamp", ASCENDING)], name=TTL_INDEX, expireAfterSeconds=seconds)


async def _indexes(db: AsyncDatabase[Any], collection: str) -> dict[str, dict[str, Any]]:
    return {info["name"]: dict(info) async for info in await db[collection].list_indexes()}


async def _drop(db: AsyncDatabase[Any], indexes: dict[str, list[IndexModel]]) -> None:
    for collection, models in indexes.items():
        existing = await _indexes(db, collection)
        for model in models:
            if model.document["name"] in existing:
                await db[collection].drop_index(model.document["name"])


async def set_retention(db: AsyncDatabase[Any], seconds: int) -> bool:
    """Make the TTL index expire entries `seconds` after their `timestamp`; True if it changed.

    `collMod` where the deployment has it; else (or if it fails) drop and create the index."""
    current = (await _indexes(db, LOGS)).get(TTL_INDEX)
    if current is not None and current.get("expireAfterSeconds") == seconds:
        return False
    if current is not None:
        try:
            await db.command(
                "collMod", LOGS, index={"name": TTL_INDEX, "expireAfterSeconds": seconds}
            )
        except OperationFailure:
            await db[LOGS].drop_index(TTL_INDEX)
        else:
            after = (await _indexes(db, LOGS)).get(TTL_INDEX)
            if after is not None and after.get("expireAfterSeconds") == seconds:
                return True
            if after is not None:
                await db[LOGS].drop_index(TTL_INDEX)
    await db[LOGS].create_indexes([ttl_index(seconds)])
    return True


async def reconcile(db: AsyncDatabase[Any], settings: RetentionSettings) -> None:
    """Give the TTL index the retention the settings ask for (run after every `up`)."""
    await set_retention(db, settings.log_retention_days * DAY_SECONDS)


async def forward(db: AsyncDatabase[Any]) -> None:
    # Dropped after: a list keeps an index that serves it while the new ones are built.
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
    await _drop(db, DROPPED_INDEXES)


async def backward(db: AsyncDatabase[Any]) -> None:
    for collection, models in DROPPED_INDEXES.items():
        await db[collection].create_indexes(models)
    await _drop(db, INDEXES)
    await set_retention(db, DEFAULT_RETENTION_SECONDS)
