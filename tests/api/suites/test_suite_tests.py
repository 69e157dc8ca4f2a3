"""`/api/v1/suites/{id}/tests`: a suite's test cases in order, adding and removing many."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.suites.schemas import MAX_CASES_PER_SUITE
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, names, stored
from tests.api.suites.helpers import (
    CASE_COLLECTION,
    SUITE_COLLECTION,
    SUITES,
    TESTS,
    create_cases,
    create_suite,
    members_url,
)

CASE_NAMES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")


@pytest.fixture
async def cases(client: httpx.AsyncClient) -> dict[str, str]:
    """Five test cases, created in `CASE_NAMES` order, by name -> id."""
    return dict(zip(CASE_NAMES, await create_cases(client, *CASE_NAMES), strict=True))


async def _page(client: httpx.AsyncClient, suite_id: str, query: str = "") -> dict[str, Any]:
    response = await client.get(f"{members_url(suite_id)}?{query}")
    assert response.status_code == 200, (query, response.text)
    page: dict[str, Any] = response.json()
    return page


async def _add(client: httpx.AsyncClient, suite_id: str, ids: list[Any]) -> httpx.Response:
    return await client.post(members_url(suite_id), json={"test_case_ids": ids})


async def _remove(client: httpx.AsyncClient, suite_id: str, ids: list[Any]) -> httpx.Response:
    return await client.request("DELETE", members_url(suite_id), json={"test_case_ids": ids})


class TestListSuiteTests:
    async def test_pages_through_the_cases_in_suite_order(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        order = ["Delta", "Alpha", "Echo", "Bravo", "Charlie"]
        suite = await create_suite(client, "Smoke", test_case_ids=[cases[n] for n in order])

        pages = [await _page(client, suite["id"], f"limit=2&page={p}") for p in (1, 2, 3)]

        assert [names(page) for page in pages] == [
            ["Delta", "Alpha"],
            ["Echo", "Bravo"],
            ["Charlie"],
        ]
        assert [(p["total"], p["page"], p["limit"], p["pages"]) for p in pages] == [
            (5, 1, 2, 3),
            (5, 2, 2, 3),
            (5, 3, 2, 3),
        ]
        reverse = await _page(client, suite["id"], "order=desc")
        assert names(reverse) == order[::-1]

    async def test_pages_backwards_from_the_end_with_order_desc(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        order = ["Delta", "Alpha", "Echo", "Bravo", "Charlie"]
        suite = await create_suite(client, "Smoke", test_case_ids=[cases[n] for n in order])

        pages = [
            await _page(client, suite["id"], f"order=desc&limit=2&page={p}") for p in (1, 2, 3)
        ]

        assert [names(page) for page in pages] == [
            ["Charlie", "Bravo"],
            ["Echo", "Alpha"],
            ["Delta"],
        ]
        assert {page["total"] for page in pages} == {5}

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_a_page_past_the_end_is_empty_with_the_total(
        self, client: httpx.AsyncClient, cases: dict[str, str], order: str
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=list(cases.values()))

        page = await _page(client, suite["id"], f"order={order}&limit=2&page=4")

        assert (page["items"], page["total"], page["pages"]) == ([], 5, 3)

    async def test_items_are_the_full_test_cases(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=[cases["Alpha"]])

        [item] = (await _page(client, suite["id"]))["items"]

        assert item == (await client.get(f"{TESTS}/{cases['Alpha']}")).json()

    async def test_fields_selects_what_each_item_carries(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=[cases["Bravo"], cases["Alpha"]])

        page = await _page(client, suite["id"], "fields=name,status")

        assert page["items"] == [
            {"id": cases["Bravo"], "name": "Bravo", "status": "draft"},
            {"id": cases["Alpha"], "name": "Alpha", "status": "draft"},
        ]

    async def test_only_the_suites_cases_are_listed(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=[cases["Echo"]])
        empty = await create_suite(client, "Empty")

        assert names(await _page(client, suite["id"])) == ["Echo"]
        page = await _page(client, empty["id"])
        assert (page["items"], page["total"], page["pages"]) == ([], 0, 0)

    async def test_unknown_suite_is_404_and_bad_parameters_422(
        self, client: httpx.AsyncClient
    ) -> None:
        suite = await create_suite(client, "Smoke")

        assert_problem(await client.get(members_url(UNKNOWN_ID)), 404)
        assert_invalid(await client.get(members_url("nope")), "path.id")
        table = [
            ("sort_by=name", "query.sort_by"),
            ("fields=name,bogus", "query.fields"),
            ("limit=201", "query.limit"),
            ("status=draft", "query.status"),
        ]
        for query, location in table:
            assert_invalid(await client.get(f"{members_url(suite['id'])}?{query}"), location)


class TestAddSuiteTests:
    async def test_appends_new_cases_in_the_order_given_and_skips_present_ones(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        suite = await create_suite(
            client, "Smoke", test_case_ids=[cases["Charlie"], cases["Alpha"]]
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await _add(
            client,
            suite["id"],
            [cases["Echo"], cases["Alpha"], cases["Bravo"], cases["Echo"].upper()],
        )

        assert response.status_code == 200, response.text
        body = response.json()
        expected = [cases[n] for n in ("Charlie", "Alpha", "Echo", "Bravo")]
        assert body["test_case_ids"] == expected
        assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
            suite["updated_at"]
        )
        assert (await client.get(f"{SUITES}/{suite['id']}")).json() == body
        assert names(await _page(client, suite["id"])) == ["Charlie", "Alpha", "Echo", "Bravo"]
        [document] = await stored(db, SUITE_COLLECTION)
        assert document["test_case_ids"] == [ObjectId(id) for id in expected]

    async def test_concurrent_adds_keep_every_case(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke")

        await asyncio.gather(
            _add(client, suite["id"], [cases["Alpha"], cases["Bravo"]]),
            _add(client, suite["id"], [cases["Charlie"], cases["Delta"]]),
        )

        body = (await client.get(f"{SUITES}/{suite['id']}")).json()
        assert sorted(body["test_case_ids"]) == sorted(cases[n] for n in CASE_NAMES[:4])

    async def test_unknown_cases_are_422_listing_them_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=[cases["Alpha"]])
        before = await stored(db, SUITE_COLLECTION)
        other = str(ObjectId())

        response = await _add(client, suite["id"], [cases["Bravo"], UNKNOWN_ID, other])

        body = assert_invalid(response, "body.test_case_ids.1", "body.test_case_ids.2")
        assert UNKNOWN_ID in body["detail"]
        assert other in body["detail"]
        assert cases["Bravo"] not in body["detail"]
        assert await stored(db, SUITE_COLLECTION) == before

    async def test_unknown_suite_is_404(
        self, client: httpx.AsyncClient, cases: dict[str, str]
    ) -> None:
        body = assert_problem(await _add(client, UNKNOWN_ID, [cases["Alpha"]]), 404)

        assert UNKNOWN_ID in body["detail"]

    async def test_invalid_body_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke")
        before = await stored(db, SUITE_COLLECTION)
        url = members_url(suite["id"])
        table: list[tuple[Any, str]] = [
            ({}, "body.test_case_ids"),
            ({"test_case_ids": []}, "body.test_case_ids"),
            ({"test_case_ids": ["nope"]}, "body.test_case_ids.0"),
            ({"test_case_ids": [{"$gt": ""}]}, "body.test_case_ids.0"),
            ({"test_case_ids": {"$gt": ""}}, "body.test_case_ids"),
            ({"test_case_ids": [str(ObjectId()) for _ in range(1001)]}, "body.test_case_ids"),
            ({"test_case_ids": [cases["Alpha"]], "position": 1}, "body.position"),
            ([cases["Alpha"]], "body"),
        ]
        for sent, location in table:
            assert_invalid(await client.post(url, json=sent), location)

        assert_invalid(await client.post(members_url("nope"), json={}), "path.id")
        assert_problem(await client.post(url, content=b"ids=1"), 415)
        assert await stored(db, SUITE_COLLECTION) == before

    async def test_a_suite_holds_at_most_10000_cases(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Huge", test_case_ids=[cases["Alpha"]])
        # 9,998 more members, written directly: creating that many cases would take minutes here.
        filler = [ObjectId() for _ in range(MAX_CASES_PER_SUITE - 2)]
        await db[SUITE_COLLECTION].update_one(
            {"_id": ObjectId(suite["id"])}, {"$push": {"test_case_ids": {"$each": filler}}}
        )
        before = await stored(db, SUITE_COLLECTION)

        too_many = await _add(client, suite["id"], [cases["Bravo"], cases["Charlie"]])

        body = assert_invalid(too_many, "body.test_case_ids")
        assert "10,001, more than the 10,000 a suite may hold" in body["detail"]
        assert await stored(db, SUITE_COLLECTION) == before
        # Alpha is in already: only Bravo is new, and it is the 10,000th.
        filled = await _add(client, suite["id"], [cases["Alpha"], cases["Bravo"]])
        assert filled.status_code == 200, filled.text
        assert len(filled.json()["test_case_ids"]) == MAX_CASES_PER_SUITE
        assert filled.json()["test_case_ids"][-1] == cases["Bravo"]
        # A full suite still takes what it holds already (nothing changes), and nothing more.
        again = await _add(client, suite["id"], [cases["Bravo"]])
        assert again.json()["version"] == filled.json()["version"]
        assert_invalid(await _add(client, suite["id"], [cases["Charlie"]]), "body.test_case_ids")


class TestRemoveSuiteTests:
    async def test_removes_the_cases_and_ignores_ones_not_in_the_suite(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        members = [cases[n] for n in ("Delta", "Alpha", "Echo", "Bravo")]
        suite = await create_suite(client, "Smoke", test_case_ids=members)

        response = await _remove(
            client, suite["id"], [cases["Alpha"], cases["Charlie"], UNKNOWN_ID, cases["Bravo"]]
        )

        assert response.status_code == 200, response.text
        assert response.json()["test_case_ids"] == [cases["Delta"], cases["Echo"]]
        assert names(await _page(client, suite["id"])) == ["Delta", "Echo"]
        assert len(await stored(db, CASE_COLLECTION)) == len(CASE_NAMES)

    async def test_unknown_suite_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await _remove(client, UNKNOWN_ID, [UNKNOWN_ID]), 404)

    async def test_invalid_body_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: dict[str, str]
    ) -> None:
        suite = await create_suite(client, "Smoke", test_case_ids=[cases["Alpha"]])
        before = await stored(db, SUITE_COLLECTION)
        table: list[tuple[list[Any], str]] = [
            ([], "body.test_case_ids"),
            (["nope"], "body.test_case_ids.0"),
            ([{"$in": [cases["Alpha"]]}], "body.test_case_ids.0"),
        ]
        for ids, location in table:
            assert_invalid(await _remove(client, suite["id"], ids), location)

        assert_invalid(await _remove(client, "nope", [cases["Alpha"]]), "path.id")
        assert await stored(db, SUITE_COLLECTION) == before
