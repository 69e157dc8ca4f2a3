"""Migration 0008 indexes the GridFS buckets: the screenshots' dedup lookup and GridFS's own."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from migrations import m0008_gridfs_indexes as m0008
from tests.database.test_m0005_list_sort_indexes import index_names

SHA256 = m0008.SHA256_INDEX.document["name"]
EXPECTED = {
    "screenshots.files": {"_id_", "filename_1_uploadDate_1", SHA256},
    "screenshots.chunks": {"_id_", "files_id_1_n_1"},
    "reports.files": {"_id_", "filename_1_uploadDate_1"},
    "reports.chunks": {"_id_", "files_id_1_n_1"},
}


async def every_index(db: AsyncDatabase[Any]) -> dict[str, set[str]]:
    return {name: await index_names(db, name) for name in EXPECTED}


async def test_forward_indexes_both_buckets(db: AsyncDatabase[Any]) -> None:
    assert await every_index(db) == EXPECTED
    [chunks] = [
        index
        async for index in await db["screenshots.chunks"].list_indexes()
        if index["name"] == "files_id_1_n_1"
    ]
    assert chunks["unique"] is True


async def test_the_dedup_lookup_is_served_by_the_sha256_index(db: AsyncDatabase[Any]) -> None:
    [index] = [
        index
        async for index in await db["screenshots.files"].list_indexes()
        if index["name"] == SHA256
    ]
    assert list(index["key"].items()) == [("metadata.sha256", 1), ("_id", 1)]


async def test_backward_drops_the_sha256_index_only_and_both_re_run(
    db: AsyncDatabase[Any],
) -> None:
    await migrations.down(db, target=m0008.VERSION - 1)
    await m0008.backward(db)  # again: harmless

    after_down = await every_index(db)
    assert after_down["screenshots.files"] == EXPECTED["screenshots.files"] - {SHA256}
    assert {name: after_down[name] for name in EXPECTED if name != "screenshots.files"} == {
        name: indexes for name, indexes in EXPECTED.items() if name != "screenshots.files"
    }

    await migrations.up(db)
    await m0008.forward(db)  # again: harmless

    assert await every_index(db) == EXPECTED


async def test_backward_on_a_database_without_buckets_does_nothing(
    db: AsyncDatabase[Any],
) -> None:
    for name in EXPECTED:
        await db.drop_collection(name)

    await m0008.backward(db)

    assert not set(await db.list_collection_names()) & set(EXPECTED)


async def test_reset_drops_the_buckets_so_no_file_outlives_its_metadata(
    db: AsyncDatabase[Any],
) -> None:
    await db["screenshots.files"].insert_one({"length": 1, "metadata": {"refs": 1}})
    await db["reports.chunks"].insert_one({"files_id": 1, "n": 0, "data": b"x"})

    result = await migrations.reset(db)

    assert set(EXPECTED) <= set(result.dropped)
    assert await every_index(db) == EXPECTED
    for name in EXPECTED:
        assert await db[name].count_documents({}) == 0, name
