"""Migration 0007 gives log entries their list orders, and the runner applies their retention."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from api.settings import Settings
from migrations import m0007_artifacts as m0007
from tests.database.test_m0005_list_sort_indexes import index_names

ADDED = {index.document["name"] for index in m0007.INDEXES[m0007.LOGS]}
DROPPED = {index.document["name"] for index in m0007.DROPPED_INDEXES[m0007.LOGS]}


async def ttl_seconds(db: AsyncDatabase[Any]) -> int:
    indexes = {i["name"]: i async for i in await db[m0007.LOGS].list_indexes()}
    return int(indexes[m0007.TTL_INDEX]["expireAfterSeconds"])


async def test_forward_adds_the_list_orders_and_drops_what_they_supersede(
    db: AsyncDatabase[Any],
) -> None:
    existing = await index_names(db, m0007.LOGS)
    assert existing >= ADDED
    assert not DROPPED & existing
    assert {"ttl_timestamp", "level_timestamp"} <= existing


async def test_forward_and_backward_are_idempotent_and_reverse_each_other(
    db: AsyncDatabase[Any],
) -> None:
    await migrations.up(db, settings=Settings(JBTS_LOG_RETENTION_DAYS=3))
    assert await ttl_seconds(db) == 3 * 86_400

    await migrations.down(db, target=6)
    await m0007.backward(db)  # again: harmless

    existing = await index_names(db, m0007.LOGS)
    assert existing >= DROPPED
    assert not ADDED & existing
    assert await ttl_seconds(db) == m0007.DEFAULT_RETENTION_SECONDS

    await m0007.forward(db)
    await m0007.forward(db)  # again: harmless
    await migrations.up(db, settings=Settings(JBTS_LOG_RETENTION_DAYS=3))

    existing = await index_names(db, m0007.LOGS)
    assert existing >= ADDED
    assert not DROPPED & existing
    assert await ttl_seconds(db) == 3 * 86_400


async def test_the_retention_is_left_alone_below_version_7(db: AsyncDatabase[Any]) -> None:
    await migrations.down(db, target=6)

    await migrations.up(db, target=6, settings=Settings(JBTS_LOG_RETENTION_DAYS=3))

    assert await ttl_seconds(db) == m0007.DEFAULT_RETENTION_SECONDS


async def test_set_retention_changes_only_what_differs(db: AsyncDatabase[Any]) -> None:
    assert await m0007.set_retention(db, 86_400) is True
    assert await m0007.set_retention(db, 86_400) is False
    assert await ttl_seconds(db) == 86_400
    await db[m0007.LOGS].drop_index(m0007.TTL_INDEX)  # lost: created again
    assert await m0007.set_retention(db, 86_400) is True
    assert await ttl_seconds(db) == 86_400
