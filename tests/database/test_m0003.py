"""Migration 0003: change counters backfilled, reference indexes added, and both taken back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from migrations import m0003_resource_versions as m0003

NOW = datetime(2025, 1, 2, tzinfo=UTC)
# The smallest document each collection's (m0001) validator accepts, without a counter.
OLD_DOCUMENTS: dict[str, dict[str, Any]] = {
    "browser_configurations": {
        "name": "chrome",
        "browser": "chrome",
        "version": "126",
        "headless": True,
        "viewport": {"width": 1280, "height": 720},
        "device_scale_factor": 1.0,
        "locale": "en-US",
        "timezone": "UTC",
        "args": [],
        "is_default": False,
    },
    "test_environments": {
        "name": "staging",
        "base_url": "https://staging.example.com/",
        "is_active": True,
        "variables": [],
    },
    "test_suites": {"name": "smoke", "tags": [], "test_case_ids": []},
    "test_templates": {"name": "login", "parameters": [], "steps": []},
}


@pytest.fixture
async def before_0003(mongo: AsyncMongoClient[Any], db_name: str) -> AsyncDatabase[Any]:
    """A database migrated to just before 0003, holding one document per counted collection."""
    database = mongo[db_name]
    await migrations.up(database, target=_previous())
    for collection, document in OLD_DOCUMENTS.items():
        await database[collection].insert_one({**document, "created_at": NOW, "updated_at": NOW})
    return database


def _previous() -> int:
    """The version just before 0003 (other branches may add 0002)."""
    return max(m.version for m in migrations.discover() if m.version < m0003.VERSION)


async def _index_names(db: AsyncDatabase[Any], collection: str) -> set[str]:
    return {info["name"] async for info in await db[collection].list_indexes()}


async def test_forward_gives_every_document_a_counter_of_1(before_0003: AsyncDatabase[Any]) -> None:
    await migrations.up(before_0003, target=m0003.VERSION)

    for collection, field in m0003.COUNTERS.items():
        [document] = await before_0003[collection].find({}).to_list()
        assert document[field] == 1, collection
    # The browser's own version string is left alone.
    browser = await before_0003["browser_configurations"].find_one({})
    assert browser is not None
    assert browser["version"] == "126"


async def test_forward_keeps_a_counter_already_there(before_0003: AsyncDatabase[Any]) -> None:
    await before_0003["test_suites"].update_one({}, {"$set": {"version": 4}})

    await migrations.up(before_0003, target=m0003.VERSION)

    suite = await before_0003["test_suites"].find_one({})
    assert suite is not None
    assert suite["version"] == 4


async def test_forward_adds_the_reference_indexes(before_0003: AsyncDatabase[Any]) -> None:
    await migrations.up(before_0003, target=m0003.VERSION)

    for collection in ("test_cases", "test_suites"):
        assert {"browser_configuration_id", "environment_id"} <= await _index_names(
            before_0003, collection
        )


async def test_forward_is_safe_to_re_run(before_0003: AsyncDatabase[Any]) -> None:
    await migrations.up(before_0003, target=m0003.VERSION)

    await m0003.forward(before_0003)

    [suite] = await before_0003["test_suites"].find({}).to_list()
    assert suite["version"] == 1


async def test_backward_removes_what_forward_added(before_0003: AsyncDatabase[Any]) -> None:
    before = {name: await _index_names(before_0003, name) for name in m0003.INDEXES}
    await migrations.up(before_0003, target=m0003.VERSION)

    await migrations.down(before_0003, target=_previous())

    for name, indexes in before.items():
        assert await _index_names(before_0003, name) == indexes
    for collection, field in m0003.COUNTERS.items():
        [document] = await before_0003[collection].find({}).to_list()
        assert field not in document, collection
    browser = await before_0003["browser_configurations"].find_one({})
    assert browser is not None
    assert browser["version"] == "126"
