"""Change counters for conditional requests, and indexes for configuration references.

Forward:
- gives every environment, suite and template a `version` and every browser configuration a
  `revision` (their `version` is the browser's own version string) of 1 where it has none; the
  API adds one on every change and serves the counter as the `ETag`;
- indexes `browser_configuration_id` and `environment_id` of test cases and suites: the list
  filters of those names, and the check for references before a configuration or environment is
  deleted (test runs have had both indexes since m0001).

Validators are not changed. They were set when m0001 created the collections, and they do not
forbid fields they do not list, so the new counters are stored as they are. Changing a validator
needs `collMod`, which the embedded engine lacks; a later migration that must constrain the
counters in the database itself can do so where `collMod` exists.

Backward removes what forward added: the two indexes per collection and the counters (the API of
schema version 2 does not read them).
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

VERSION = 3
NAME = "resource versions"

COUNTERS = {
    "browser_configurations": "revision",
    "test_environments": "version",
    "test_suites": "version",
    "test_templates": "version",
}
"""Per collection, the change counter this migration adds (not listed in its validator)."""


def _reference_indexes() -> list[IndexModel]:
    return [
        IndexModel([("browser_configuration_id", ASCENDING)], name="browser_configuration_id"),
        IndexModel([("environment_id", ASCENDING)], name="environment_id"),
    ]


INDEXES = {"test_cases": _reference_indexes(), "test_suites": _reference_indexes()}
"""Per collection, the indexes this migration adds."""


async def forward(db: AsyncDatabase[Any]) -> None:
    for collection, field in COUNTERS.items():
        await db[collection].update_many({field: {"$exists": False}}, {"$set": {field: 1}})
    for collection, indexes in INDEXES.items():
        await db[collection].create_indexes(indexes)


async def backward(db: AsyncDatabase[Any]) -> None:
    for collection, indexes in INDEXES.items():
        existing = {info["name"] async for info in await db[collection].list_indexes()}
        for index in indexes:
            name = index.document["name"]
            if name in existing:
                await db[collection].drop_index(name)
    for collection, field in COUNTERS.items():
        await db[collection].update_many({field: {"$exists": True}}, {"$unset": {field: ""}})
