"""Many clients making a browser configuration the default at once: every promotion lands."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BROWSER_COLLECTION, BROWSERS, browser_body, create_browser

CONCURRENT = 20


async def _defaults(db: AsyncDatabase[Any]) -> list[str]:
    cursor = db[BROWSER_COLLECTION].find({"is_default": True}, {"name": 1})
    return [doc["name"] async for doc in cursor]


class TestConcurrentPromotions:
    async def test_concurrent_default_creates_all_answer_201_and_leave_one_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Old default", is_default=True)
        bodies = [browser_body(f"Chrome {index}", is_default=True) for index in range(CONCURRENT)]

        responses = await asyncio.gather(*[client.post(BROWSERS, json=body) for body in bodies])

        assert [r.status_code for r in responses] == [201] * CONCURRENT, [
            r.text for r in responses if r.status_code != 201
        ]
        assert len(await db[BROWSER_COLLECTION].find({}).to_list()) == CONCURRENT + 1
        assert len(await _defaults(db)) == 1

    async def test_concurrent_patch_promotions_all_answer_200_and_leave_one_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Old default", is_default=True)
        ids = [
            (await create_browser(client, f"Chrome {index}"))["id"] for index in range(CONCURRENT)
        ]

        responses = await asyncio.gather(
            *[client.patch(f"{BROWSERS}/{id}", json={"is_default": True}) for id in ids]
        )

        assert [r.status_code for r in responses] == [200] * CONCURRENT, [
            r.text for r in responses if r.status_code != 200
        ]
        [default] = await _defaults(db)
        assert default.startswith("Chrome ")

    async def test_the_last_promotion_wins(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await create_browser(client, "First")
        second = await create_browser(client, "Second")

        await client.patch(f"{BROWSERS}/{first['id']}", json={"is_default": True})
        await client.patch(f"{BROWSERS}/{second['id']}", json={"is_default": True})

        assert await _defaults(db) == ["Second"]
