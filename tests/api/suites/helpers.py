"""What the suite tests share: routes, and creating test cases and suites through the API."""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

SUITES = "/api/v1/suites"
TESTS = "/api/v1/tests"
SUITE_COLLECTION = "test_suites"
CASE_COLLECTION = "test_cases"


def members_url(suite_id: str) -> str:
    return f"{SUITES}/{suite_id}/tests"


async def create_cases(client: httpx.AsyncClient, *names: str) -> list[str]:
    """One test case per name, created in this order; their ids, in the same order."""
    ids: list[str] = []
    for name in names:
        response = await client.post(TESTS, json={"name": name})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def create_suite(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(SUITES, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored_suite(db: AsyncDatabase[Any], suite_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await db[SUITE_COLLECTION].find_one({"_id": ObjectId(suite_id)})
    return found
