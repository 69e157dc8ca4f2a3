"""Repairs: a recount on request, and changes left open by a process that stopped midway.

A change is open on the run, then the executions are written, then it is closed (see
`api.executions.tracking`). These tests stop that sequence where a killed process would, by
doing its first steps through the service and never the rest, and age the open change past
`ABANDONED_AFTER` in the database as time would.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.executions import tracking
from documents.base import utcnow
from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    counted,
    create_case,
    create_run,
    get_run,
    run_executions,
    set_status,
)


@pytest.fixture
async def run(client: httpx.AsyncClient) -> dict[str, Any]:
    """A run of two cases, the first one running."""
    cases = [await create_case(client, f"case {n}") for n in range(2)]
    created = await create_run(client, test_case_ids=[case["id"] for case in cases])
    first = (await run_executions(client, created["id"]))[0]
    await set_status(client, first["id"], "running")
    return await get_run(client, created["id"])


async def _age_pending(db: AsyncDatabase[Any], run_id: str) -> None:
    """Make every open change of the run look as old as an abandoned one."""
    old = utcnow() - tracking.ABANDONED_AFTER
    stored = await db["test_runs"].find_one({"_id": ObjectId(run_id)})
    assert stored is not None
    pending = [{**change, "at": old} for change in stored["pending"]]
    await db["test_runs"].update_one({"_id": ObjectId(run_id)}, {"$set": {"pending": pending}})


async def _recount(client: httpx.AsyncClient, run_id: str) -> httpx.Response:
    return await client.post(f"{RUNS}/{run_id}/recount")


class TestRecount:
    async def test_recount_repairs_counters_that_drifted(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], run: dict[str, Any]
    ) -> None:
        await db["test_runs"].update_one(
            {"_id": ObjectId(run["id"])}, {"$set": {"counters.passed": 7, "counters.total": 9}}
        )
        response = await _recount(client, run["id"])
        assert response.status_code == 200, response.text
        assert counted(response.json()) == {"queued": 1, "running": 1, "total": 2}
        assert response.json()["recount_needed"] is False

    async def test_unknown_run_is_404(self, client: httpx.AsyncClient) -> None:
        response = await _recount(client, "6650f1c2a7b4e3d2c1b0a998")
        assert response.status_code == 404

    async def test_a_change_being_written_defers_the_recount_to_its_close(
        self, client: httpx.AsyncClient, run: dict[str, Any]
    ) -> None:
        run_id = PydanticObjectId(run["id"])
        change = await tracking.open_change(run_id)
        deferred = await _recount(client, run["id"])
        assert deferred.status_code == 200, deferred.text
        assert deferred.json()["recount_needed"] is True
        await tracking.close_change(change)
        after = await get_run(client, run["id"])
        assert after["recount_needed"] is False
        assert counted(after) == {"queued": 1, "running": 1, "total": 2}


class TestAbandonedChanges:
    async def test_a_change_stopped_after_its_write_is_counted_by_the_recount(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], run: dict[str, Any]
    ) -> None:
        first, second = await run_executions(client, run["id"])
        await set_status(client, second["id"], "running")
        await set_status(client, second["id"], "passed")
        # The process stops after writing the execution, before closing its change.
        change = await tracking.open_change(PydanticObjectId(run["id"]))
        await db["test_executions"].update_one(
            {"_id": ObjectId(first["id"])},
            {"$set": {"status": "failed", "finished_at": utcnow(), "run_seq": change.seq}},
        )
        stuck = await get_run(client, run["id"])
        assert stuck["status"] == "running"
        # Served as the executions say; stored, the change is not counted until the repair.
        assert counted(stuck) == {"failed": 1, "passed": 1, "total": 2}
        stored = await db["test_runs"].find_one({"_id": ObjectId(run["id"])})
        assert stored is not None
        assert (stored["counters"]["running"], stored["counters"]["failed"]) == (1, 0)
        assert (await _recount(client, run["id"])).json()["recount_needed"]  # not yet abandoned
        await _age_pending(db, run["id"])
        response = await _recount(client, run["id"])
        assert response.status_code == 200, response.text
        repaired = response.json()
        assert counted(repaired) == {"failed": 1, "passed": 1, "total": 2}
        assert repaired["status"] == "failed"
        assert repaired["finished_at"] is not None

    async def test_a_slow_writer_closing_after_the_repair_counts_nothing_twice(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], run: dict[str, Any]
    ) -> None:
        first, _ = await run_executions(client, run["id"])
        change = await tracking.open_change(PydanticObjectId(run["id"]))
        await _age_pending(db, run["id"])
        assert (await _recount(client, run["id"])).status_code == 200  # drops the change
        # The writer was only slow: it writes and closes now.
        await db["test_executions"].update_one(
            {"_id": ObjectId(first["id"])}, {"$set": {"status": "passed", "run_seq": change.seq}}
        )
        delta = Counter({"running": -1, "passed": 1})
        await tracking.close_change(change, delta=delta)
        after = await get_run(client, run["id"])
        assert counted(after) == {"queued": 1, "passed": 1, "total": 2}
        stored = await db["test_runs"].find_one({"_id": ObjectId(run["id"])})
        assert stored is not None
        assert stored["pending"] == []

    async def test_an_abandoned_run_creation_is_repaired(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], run: dict[str, Any]
    ) -> None:
        # A run whose creation stopped after one of its two executions was inserted.
        first, second = await run_executions(client, run["id"])
        await db["test_executions"].delete_one({"_id": ObjectId(second["id"])})
        await db["test_runs"].update_one(
            {"_id": ObjectId(run["id"])},
            {"$push": {"pending": {"token": "t", "seq": run["version"], "at": utcnow()}}},
        )
        await _age_pending(db, run["id"])
        response = await _recount(client, run["id"])
        assert counted(response.json()) == {"running": 1, "total": 1}
        await set_status(client, first["id"], "passed")
        assert (await get_run(client, run["id"]))["status"] == "passed"
        execution = await client.get(f"{EXECUTIONS}/{first['id']}")
        assert execution.json()["status"] == "passed"
