"""Migration 0009 copies each run's facts and each case's tags into the executions, with the
indexes analytics start from."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from migrations import m0009_analytics as m0009
from tests.api.executions.helpers import create_case, create_run
from tests.api.helpers import stored
from tests.database.test_m0005_list_sort_indexes import index_names

NAMES = {index.document["name"] for index in m0009.INDEXES["test_executions"]}


async def test_forward_fills_what_a_version_8_database_lacks_and_backward_removes_it(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in", tags=["smoke"])
    await create_run(client, test_case_ids=[case["id"]], branch="main", trigger="ci")
    (before,) = await stored(db, "test_executions")
    assert await index_names(db, "test_executions") >= NAMES

    await m0009.backward(db)
    (down,) = await stored(db, "test_executions")
    assert "run" not in down
    assert "tags" not in down["test_case"]
    assert not NAMES & await index_names(db, "test_executions")

    await m0009.forward(db)
    await m0009.forward(db)  # safe to re-run
    (up,) = await stored(db, "test_executions")
    assert up["run"] == before["run"]
    assert up["run"]["branch"] == "main"
    assert up["test_case"]["tags"] == ["smoke"]
    assert await index_names(db, "test_executions") >= NAMES
