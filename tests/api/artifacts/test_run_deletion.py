"""Deleting a run deletes what belongs to it: reports, screenshots (and unshared GridFS files),
logs."""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.artifacts.images_samples import png
from tests.api.executions.helpers import RUNS, create_case, create_run, run_executions

SCREENSHOTS = "/api/v1/artifacts/screenshots"
LOGS = "/api/v1/artifacts/logs"
REPORTS = "/api/v1/artifacts/reports"


async def test_a_deleted_run_takes_its_screenshots_and_logs(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in")
    doomed = await create_run(client, test_case_ids=[case["id"]])
    kept = await create_run(client, test_case_ids=[case["id"]])
    for run in (doomed, kept):
        (execution,) = await run_executions(client, run["id"])
        shot = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"]},
            files={"file": ("shot.png", png(), "image/png")},
        )
        assert shot.status_code == 201, shot.text
        entry = {"run_id": run["id"], "level": "info", "source": "runner", "message": "hi"}
        logged = await client.post(LOGS, json={"entries": [entry]})
        assert logged.status_code == 200, logged.text
        report = await client.post(REPORTS, json={"run_id": run["id"], "format": "html"})
        assert report.status_code == 201, report.text

    assert (await client.delete(f"{RUNS}/{doomed['id']}")).status_code == 204

    assert await db["screenshots"].count_documents({"run_id": ObjectId(doomed["id"])}) == 0
    assert await db["log_entries"].count_documents({"run_id": ObjectId(doomed["id"])}) == 0
    assert await db["screenshots"].count_documents({"run_id": ObjectId(kept["id"])}) == 1
    assert await db["log_entries"].count_documents({"run_id": ObjectId(kept["id"])}) == 1
    assert await db["test_reports"].count_documents({"run_id": ObjectId(doomed["id"])}) == 0
    assert await db["test_reports"].count_documents({"run_id": ObjectId(kept["id"])}) == 1
    # Identical bytes: one GridFS file, still referenced by the kept run's screenshot.
    assert await db["screenshots.files"].count_documents({}) == 1
    shown = await client.get(SCREENSHOTS, params={"run_id": kept["id"]})
    (item,) = shown.json()["items"]
    content = await client.get(f"{SCREENSHOTS}/{item['id']}/content")
    assert content.status_code == 200
    assert content.content == png()
