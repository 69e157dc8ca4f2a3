"""Analytics: each execution carries its run's facts and its case's tags, with the indexes the
analytics pipelines start with.

Analytics (`/executions/analytics/...`, a case's stats, a suite's report) select the executions
of the runs opened in a window, of a suite, a case, a tag, an environment, a browser
configuration, a branch or a trigger. Those are facts of the run (and tags of the case), so each
execution gets a copy (`run`: the run's `suite_id`, `environment_id`, `browser_configuration_id`,
`branch`, `trigger` and `created_at`; `test_case.tags`: the case's tags when it ran) and one
indexed `$match` on the executions selects what a pipeline reads.

Forward:
- copies every run's facts into its executions that lack them (one update per run);
- copies every case's current tags into its executions that lack `test_case.tags` (one update
  per case: the tags it had when they ran are not known);
- creates `analytics_window` (`run.created_at`), `analytics_suite` (`run.suite_id`,
  `run.created_at`), `analytics_case` (`test_case_id`, `run.created_at`) and `analytics_tags`
  (`test_case.tags`, `run.created_at`) on `test_executions`.

Backward drops the indexes and removes `run` and `test_case.tags`. Safe to re-run.
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

VERSION = 9
NAME = "analytics"

EXECUTIONS = "test_executions"
RUNS = "test_runs"
CASES = "test_cases"
FACTS = (
    "suite_id",
    "environment_id",
    "browser_configuration_id",
    "branch",
    "trigger",
    "created_at",
)
"""The run's fields each execution's `run` copies."""

ADDED_FIELDS = {EXECUTIONS: ("run",)}
"""Fields this migration adds, left out of the validator (no `collMod` on every engine)."""

INDEXES = {
    EXECUTIONS: [
        IndexModel([*[(key, ASCENDING) for key in equal], ("run.created_at", ASCENDING)], name=name)
        for name, equal in (
            ("analytics_window", ()),
            ("analytics_suite", ("run.suite_id",)),
            ("analytics_case", ("test_case_id",)),
            ("analytics_tags", ("test_case.tags",)),
        )
    ]
}
"""Per collection, the indexes this migration adds."""


async def forward(db: AsyncDatabase[Any]) -> None:
    async for run in db[RUNS].find({}, projection=dict.fromkeys(FACTS, 1)):
        facts = {name: run.get(name) for name in FACTS}
        facts["trigger"] = facts["trigger"] or "manual"
        await db[EXECUTIONS].update_many(
            {"run_id": run["_id"], "run": {"$exists": False}}, {"$set": {"run": facts}}
        )
    async for case in db[CASES].find({}, projection={"tags": 1}):
        await db[EXECUTIONS].update_many(
            {"test_case_id": case["_id"], "test_case.tags": {"$exists": False}},
            {"$set": {"test_case.tags": list(case.get("tags") or [])}},
        )
    await db[EXECUTIONS].create_indexes(INDEXES[EXECUTIONS])


async def backward(db: AsyncDatabase[Any]) -> None:
    existing = {info["name"] async for info in await db[EXECUTIONS].list_indexes()}
    for model in INDEXES[EXECUTIONS]:
        if model.document["name"] in existing:
            await db[EXECUTIONS].drop_index(model.document["name"])
    await db[EXECUTIONS].update_many({}, {"$unset": {"run": "", "test_case.tags": ""}})
