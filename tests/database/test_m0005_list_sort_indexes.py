"""Migration 0005 stores each case's priority rank and gives every list sort its index."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from migrations import m0005_list_sort_indexes as m0005
from tests.api.helpers import names, stored

TESTS = "/api/v1/tests"


async def index_names(db: AsyncDatabase[Any], collection: str) -> set[str]:
    return {info["name"] async for info in await db[collection].list_indexes()}


async def create_cases(client: httpx.AsyncClient, *priorities: str) -> None:
    for number, priority in enumerate(priorities):
        body = {"name": f"case {number} {priority}", "priority": priority}
        assert (await client.post(TESTS, json=body)).status_code == 201


class TestForward:
    async def test_ranks_the_cases_a_version_4_database_holds(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_cases(client, "high", "low", "critical", "medium")
        await db["test_cases"].update_many({}, {"$unset": {"priority_rank": ""}})  # as v4 stored

        await m0005.forward(db)

        ranks = {case["priority"]: case["priority_rank"] for case in await stored(db, "test_cases")}
        assert ranks == {"low": 0, "medium": 1, "high": 2, "critical": 3}
        page = (await client.get(f"{TESTS}?sort_by=priority&order=asc")).json()
        assert names(page) == ["case 1 low", "case 3 medium", "case 0 high", "case 2 critical"]

    async def test_adds_the_sort_indexes_and_drops_the_ones_they_supersede(
        self, db: AsyncDatabase[Any]
    ) -> None:
        for collection, added in m0005.INDEXES.items():
            existing = await index_names(db, collection)
            assert {index.document["name"] for index in added} <= existing
        for collection, dropped in m0005.DROPPED_INDEXES.items():
            existing = await index_names(db, collection)
            assert not {index.document["name"] for index in dropped} & existing

    async def test_removes_the_collection_earlier_probes_wrote_to(
        self, db: AsyncDatabase[Any]
    ) -> None:
        await db[m0005.PROBE_COLLECTION].insert_one({"probe": "left over by a crash"})

        await m0005.forward(db)

        assert m0005.PROBE_COLLECTION not in await db.list_collection_names()


class TestBackward:
    async def test_restores_version_4_and_forward_again_restores_version_5(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_cases(client, "low", "critical")

        await migrations.down(db, target=4)

        assert all("priority_rank" not in case for case in await stored(db, "test_cases"))
        for collection, dropped in m0005.DROPPED_INDEXES.items():
            existing = await index_names(db, collection)
            assert {index.document["name"] for index in dropped} <= existing
        for collection, added in m0005.INDEXES.items():
            assert not {i.document["name"] for i in added} & await index_names(db, collection)

        await migrations.up(db)

        assert sorted(case["priority_rank"] for case in await stored(db, "test_cases")) == [0, 3]
