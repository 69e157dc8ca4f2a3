"""Migration 0011 gives every execution written before transitions were kept its one known
status change, which live status then sends."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from migrations import m0011_execution_transitions as m0011
from tests.api.executions.helpers import create_case, create_run
from tests.api.helpers import stored


async def test_forward_fills_what_a_version_10_database_lacks_and_backward_removes_it(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in")
    run = await create_run(client, test_case_ids=[case["id"]])
    (queued,) = await stored(db, "test_executions")
    for status in ("running", "passed"):
        response = await client.patch(
            f"/api/v1/executions/{queued['_id']}", json={"status": status}
        )
        assert response.status_code == 200, response.text
    (passed,) = await stored(db, "test_executions")
    assert [t["status"] for t in passed["transitions"]] == ["queued", "running", "passed"]

    await m0011.backward(db)
    (down,) = await stored(db, "test_executions")
    assert "transitions" not in down

    await m0011.forward(db)
    await m0011.forward(db)  # safe to re-run
    (up,) = await stored(db, "test_executions")
    assert up["transitions"] == [
        {
            "status": "passed",
            "seq": down["run_seq"],
            "at": down["updated_at"],
            "duration_ms": down["duration_ms"],
        }
    ]
    # The service reads it: replayed from the start, the finished run's live status is the one
    # known change, then the run.
    events = await client.get(
        f"/api/v1/executions/runs/{run['id']}/events", headers={"Last-Event-ID": "0"}
    )
    assert events.status_code == 200
    kinds = [line for line in events.text.splitlines() if line.startswith("event:")]
    assert kinds == ["event: execution", "event: run"]
    assert '"status":"passed"' in events.text.replace(" ", "")
