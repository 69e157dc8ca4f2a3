"""`DELETE /api/v1/tests/{id}`: the case goes, and every suite that lists it lets go of it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem
from tests.api.test_defs.helpers import (
    SUITE_COLLECTION,
    all_cases,
    case_url,
    create_case,
    insert_suite,
    suite_members,
)


async def _three(client: httpx.AsyncClient, *, prefix: str = "") -> list[str]:
    names = ("Login", "Logout", "Search")
    return [(await create_case(client, f"{prefix}{name}"))["id"] for name in names]


async def _suites(db: AsyncDatabase[Any]) -> list[dict[str, Any]]:
    return await db[SUITE_COLLECTION].find({}).sort("_id", 1).to_list()


class TestDeleteCase:
    async def test_answers_204_then_the_case_is_gone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        login, logout, search = await _three(client)

        response = await client.delete(case_url(logout))

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(case_url(logout)), 404)
        assert [str(doc["_id"]) for doc in await all_cases(db)] == [login, search]

    async def test_every_suite_listing_it_lets_go_and_keeps_its_other_cases(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        login, logout, search = await _three(client)
        smoke = await insert_suite(db, "Smoke", [login, logout, search])
        auth = await insert_suite(db, "Auth", [logout, login])
        other = await insert_suite(db, "Search only", [search])
        untouched = (await _suites(db))[2]

        response = await client.delete(case_url(logout))

        assert response.status_code == 204
        assert await suite_members(db, smoke) == [login, search]
        assert await suite_members(db, auth) == [login]
        assert await suite_members(db, other) == [search]
        assert (await _suites(db))[2] == untouched
        changed = (await _suites(db))[:2]
        assert all(suite["updated_at"] > untouched["updated_at"] for suite in changed)
        assert await db[SUITE_COLLECTION].count_documents({"test_case_ids": ObjectId(logout)}) == 0

    async def test_a_suite_of_only_that_case_becomes_empty(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        [login, *_] = await _three(client)
        suite = await insert_suite(db, "Login only", [login])

        await client.delete(case_url(login))

        assert await suite_members(db, suite) == []

    async def test_deleting_twice_is_404(self, client: httpx.AsyncClient) -> None:
        [login, *_] = await _three(client)
        await client.delete(case_url(login))

        assert_problem(await client.delete(case_url(login)), 404)

    async def test_unknown_id_is_404_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        ids = await _three(client)
        await insert_suite(db, "Smoke", ids)
        before = (await all_cases(db), await _suites(db))

        assert_problem(await client.delete(case_url(UNKNOWN_ID)), 404)
        assert_problem(await client.delete(case_url(UNKNOWN_ID), headers={"If-Match": "*"}), 404)
        assert (await all_cases(db), await _suites(db)) == before

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.delete(case_url("nope")), "path.id")


class TestConcurrentDeletes:
    async def test_cases_of_one_suite_deleted_at_once_all_go(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        cases = [*await _three(client), *await _three(client, prefix="Other ")]
        suite = await insert_suite(db, "Smoke", cases)

        responses = await asyncio.gather(*[client.delete(case_url(case)) for case in cases])

        assert [response.status_code for response in responses] == [204] * len(cases)
        assert await suite_members(db, suite) == []
        assert await all_cases(db) == []


class TestConditionalDelete:
    async def test_a_stale_if_match_is_412_and_nothing_is_deleted(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        login, logout, _ = await _three(client)
        await client.patch(case_url(logout), json={"priority": "high"})
        await insert_suite(db, "Smoke", [login, logout])
        before = (await all_cases(db), await _suites(db))

        response = await client.delete(case_url(logout), headers={"If-Match": '"1"'})

        body = assert_problem(response, 412)
        assert '"2"' in body["detail"]
        assert (await all_cases(db), await _suites(db)) == before

    async def test_the_current_version_deletes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        login, logout, _ = await _three(client)
        await client.patch(case_url(logout), json={"priority": "high"})
        suite = await insert_suite(db, "Smoke", [login, logout])

        response = await client.delete(case_url(logout), headers={"If-Match": '"2"'})

        assert response.status_code == 204
        assert await suite_members(db, suite) == [login]
        assert_problem(await client.get(case_url(logout)), 404)

    async def test_star_deletes(self, client: httpx.AsyncClient) -> None:
        [login, *_] = await _three(client)

        response = await client.delete(case_url(login), headers={"If-Match": "*"})

        assert response.status_code == 204
