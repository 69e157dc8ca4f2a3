"""Deleting a run deletes what belongs to it: reports, screenshots (and unshared GridFS files),
logs."""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts.screenshot_service import CHUNK_SIZE
from tests.api.artifacts.images_samples import png, png_of_size
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


async def test_a_deleted_run_frees_the_files_only_it_used_and_keeps_shared_ones(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in")
    doomed = await create_run(client, test_case_ids=[case["id"]])
    kept = await create_run(client, test_case_ids=[case["id"]])
    (doomed_execution,) = await run_executions(client, doomed["id"])
    (kept_execution,) = await run_executions(client, kept["id"])
    own = png_of_size(CHUNK_SIZE + 100, seed=1)  # two chunks
    shared = png_of_size(CHUNK_SIZE + 200, seed=2)

    async def shot(execution: dict[str, Any], data: bytes) -> dict[str, Any]:
        response = await client.post(
            SCREENSHOTS,
            data={"execution_id": execution["id"]},
            files={"file": ("shot.png", data, "image/png")},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    # The doomed run's own file twice (its two screenshots share it), and a file both runs use.
    own_ids = {(await shot(doomed_execution, own))["file_id"] for _ in range(2)}
    shared_ids = {
        (await shot(execution, shared))["file_id"]
        for execution in (doomed_execution, kept_execution)
    }
    assert len(own_ids) == len(shared_ids) == 1
    (own_file,), (shared_file,) = own_ids, shared_ids
    files, chunks = db["screenshots.files"], db["screenshots.chunks"]
    assert await files.count_documents({}) == 2
    assert await chunks.count_documents({"files_id": ObjectId(own_file)}) == 2
    assert await chunks.count_documents({"files_id": ObjectId(shared_file)}) == 2

    assert (await client.delete(f"{RUNS}/{doomed['id']}")).status_code == 204

    assert await files.count_documents({"_id": ObjectId(own_file)}) == 0
    assert await chunks.count_documents({"files_id": ObjectId(own_file)}) == 0
    assert await files.count_documents({"_id": ObjectId(shared_file)}) == 1
    assert await chunks.count_documents({"files_id": ObjectId(shared_file)}) == 2
    assert await db["screenshots"].count_documents({}) == 1
    listed = await client.get(SCREENSHOTS, params={"run_id": kept["id"]})
    (item,) = listed.json()["items"]
    assert item["file_id"] == shared_file
    content = await client.get(f"{SCREENSHOTS}/{item['id']}/content")
    assert content.status_code == 200
    assert content.content == shared
