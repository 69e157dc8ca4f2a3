"""Migration 0006 gives runs and executions their journal fields and every list order its index."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from migrations import m0006_execution_tracking as m0006
from tests.api.executions.helpers import EXECUTIONS, RUNS, create_case, create_run
from tests.api.helpers import stored
from tests.database.test_m0005_list_sort_indexes import index_names

RUN_FIELDS = ("pending", "recount_needed", "cancel_requested")


async def make_run(client: httpx.AsyncClient) -> dict[str, Any]:
    case = await create_case(client, "log in")
    return await create_run(client, test_case_ids=[case["id"]])


class TestForward:
    async def test_fills_the_fields_a_version_5_database_lacks(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        run = await make_run(client)
        unset_run = dict.fromkeys(RUN_FIELDS, "")
        await db["test_runs"].update_many({}, {"$unset": unset_run})  # as version 5 stored
        await db["test_executions"].update_many({}, {"$unset": {"run_seq": "", "attempt_key": ""}})

        await m0006.forward(db)

        (stored_run,) = await stored(db, "test_runs")
        assert stored_run["pending"] == []
        assert stored_run["recount_needed"] is False
        assert stored_run["cancel_requested"] is False
        (execution,) = await stored(db, "test_executions")
        assert execution["run_seq"] == 1
        key = f"{execution['run_id']}:{execution['test_case_id']}:1"
        assert execution["attempt_key"] == key
        assert (await client.get(f"{RUNS}/{run['id']}")).status_code == 200
        assert (await client.get(EXECUTIONS, params={"run_id": run["id"]})).json()["total"] == 1

    async def test_adds_the_sort_indexes_and_drops_the_ones_they_supersede(
        self, db: AsyncDatabase[Any]
    ) -> None:
        for collection, added in m0006.INDEXES.items():
            existing = await index_names(db, collection)
            assert {index.document["name"] for index in added} <= existing
        for collection, dropped in m0006.DROPPED_INDEXES.items():
            existing = await index_names(db, collection)
            assert not {index.document["name"] for index in dropped} & existing


class TestBackward:
    async def test_restores_version_5_and_forward_again_restores_version_6(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await make_run(client)

        await migrations.down(db, target=5)

        (run,) = await stored(db, "test_runs")
        assert not set(RUN_FIELDS) & set(run)
        assert all(
            not {"run_seq", "attempt_key"} & set(e) for e in await stored(db, "test_executions")
        )
        for collection, dropped in m0006.DROPPED_INDEXES.items():
            existing = await index_names(db, collection)
            assert {index.document["name"] for index in dropped} <= existing
        for collection, added in m0006.INDEXES.items():
            assert not {i.document["name"] for i in added} & await index_names(db, collection)

        await migrations.up(db)

        (run,) = await stored(db, "test_runs")
        assert run["pending"] == []
        assert [e["run_seq"] for e in await stored(db, "test_executions")] == [1]
