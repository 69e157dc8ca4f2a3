"""Where a report's content is kept: inline when small, else in the `reports` GridFS bucket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.settings import Settings
from tests.api.artifacts.reporting import REPORTS, content, create_report, finished_run
from tests.api.helpers import assert_problem

INLINE_BYTES = 4096


@pytest.fixture
def settings(mongodb_uri: str, db_name: str) -> Settings:
    """Reports over 4 KiB go to GridFS."""
    return Settings.model_validate(
        {
            "mongodb_uri": mongodb_uri,
            "mongodb_db": db_name,
            "JBTS_REPORT_INLINE_BYTES": INLINE_BYTES,
        }
    )


@pytest.fixture
async def run(client: httpx.AsyncClient) -> dict[str, Any]:
    return await finished_run(client, stack="at frame\n" * 2000)  # ~36 KB of stack


async def test_a_small_report_is_stored_inline(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    small = await finished_run(client)

    report = await create_report(client, small["id"], "junit")

    assert report["size"] <= INLINE_BYTES
    stored = await db["test_reports"].find_one({"_id": ObjectId(report["id"])})
    assert stored is not None
    assert stored["content"].encode() == (await content(client, report["id"])).content
    assert await db["reports.files"].count_documents({}) == 0


async def test_a_large_report_goes_to_gridfs_and_reads_back_whole(
    client: httpx.AsyncClient, run: dict[str, Any], db: AsyncDatabase[Any]
) -> None:
    report = await create_report(client, run["id"], "json")

    assert report["size"] > INLINE_BYTES
    assert report["content_file_id"] is not None
    stored = await db["test_reports"].find_one({"_id": ObjectId(report["id"])})
    assert stored is not None
    assert stored.get("content") is None
    [file] = await db["reports.files"].find().to_list()
    assert file["_id"] == ObjectId(report["content_file_id"])
    assert file["length"] == report["size"]
    response = await content(client, report["id"])
    assert len(response.content) == report["size"]
    assert response.json()["run"]["id"] == run["id"]
    assert response.headers["content-type"] == "application/json"


async def test_deleting_a_large_report_removes_its_gridfs_file(
    client: httpx.AsyncClient, run: dict[str, Any], db: AsyncDatabase[Any]
) -> None:
    report = await create_report(client, run["id"], "html")
    kept = await create_report(client, run["id"], "junit")

    response = await client.delete(f"{REPORTS}/{report['id']}")

    assert response.status_code == 204
    assert_problem(await client.get(f"{REPORTS}/{report['id']}/content"), 404)
    files = await db["reports.files"].find().to_list()
    assert [f["_id"] for f in files] == [ObjectId(kept["content_file_id"])]
    chunks = await db["reports.chunks"].distinct("files_id")
    assert chunks == [ObjectId(kept["content_file_id"])]
