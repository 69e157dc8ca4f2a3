"""`/api/v1/suites`: CRUD, unique names, references, and the list filters (tags, q, dates)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import (
    UNKNOWN_ID,
    assert_invalid,
    assert_problem,
    create_browser,
    create_environment,
    names,
    parse_time,
    stored,
)
from tests.api.suites.helpers import (
    CASE_COLLECTION,
    SUITE_COLLECTION,
    SUITES,
    create_cases,
    create_suite,
    stored_suite,
)


async def _list(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.get(f"{SUITES}?{query}")
    assert response.status_code == 200, (query, response.text)
    page: dict[str, Any] = response.json()
    return page


class TestCreateSuite:
    async def test_answers_201_with_location_and_the_full_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(SUITES, json={"name": "Checkout smoke"})

        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"{SUITES}/{body['id']}"
        assert body == {
            "id": body["id"],
            "created_at": body["created_at"],
            "updated_at": body["created_at"],
            "name": "Checkout smoke",
            "description": None,
            "tags": [],
            "test_case_ids": [],
            "browser_configuration_id": None,
            "environment_id": None,
            "version": 1,
        }
        fetched = await client.get(response.headers["location"])
        assert fetched.json() == body

    async def test_stores_every_field_with_ids_as_object_ids(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first, second = await create_cases(client, "Login", "Pay")
        browser = await create_browser(client, "Chrome desktop")
        environment = await create_environment(client, "staging")

        body = await create_suite(
            client,
            "Checkout smoke",
            description="Every release",
            tags=["smoke", "checkout", "smoke"],
            test_case_ids=[second, first, second],
            browser_configuration_id=browser["id"],
            environment_id=environment["id"],
        )

        assert body["tags"] == ["smoke", "checkout"]
        assert body["test_case_ids"] == [second, first]
        assert body["browser_configuration_id"] == browser["id"]
        assert body["environment_id"] == environment["id"]
        document = await stored_suite(db, body["id"])
        assert document is not None
        assert document["test_case_ids"] == [ObjectId(second), ObjectId(first)]
        assert document["browser_configuration_id"] == ObjectId(browser["id"])
        assert document["environment_id"] == ObjectId(environment["id"])

    async def test_unknown_test_cases_are_422_listing_them_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        [known] = await create_cases(client, "Login")
        other = str(ObjectId())

        response = await client.post(
            SUITES, json={"name": "Smoke", "test_case_ids": [known, UNKNOWN_ID, other]}
        )

        body = assert_invalid(response, "body.test_case_ids.1", "body.test_case_ids.2")
        assert UNKNOWN_ID in body["detail"]
        assert other in body["detail"]
        assert known not in body["detail"]
        assert len(body["errors"]) == 2
        assert await stored(db, SUITE_COLLECTION) == []

    async def test_unknown_browser_or_environment_is_422_naming_the_field(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for field in ("browser_configuration_id", "environment_id"):
            response = await client.post(SUITES, json={"name": "Smoke", field: UNKNOWN_ID})

            body = assert_invalid(response, f"body.{field}")
            assert UNKNOWN_ID in body["detail"]
        assert await stored(db, SUITE_COLLECTION) == []

    async def test_duplicate_name_is_409(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_suite(client, "Smoke")

        response = await client.post(SUITES, json={"name": "Smoke"})

        body = assert_problem(response, 409)
        assert "Smoke" in body["detail"]
        assert len(await stored(db, SUITE_COLLECTION)) == 1

    async def test_invalid_body_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({}, "body.name"),
            ({"name": ""}, "body.name"),
            ({"name": "   "}, "body.name"),
            ({"name": {"$gt": ""}}, "body.name"),
            ({"name": "S", "tags": [""]}, "body.tags.0"),
            ({"name": "S", "tags": "smoke"}, "body.tags"),
            ({"name": "S", "tags": [f"t{i}" for i in range(101)]}, "body.tags"),
            ({"name": "S", "tags": [{"$gt": ""}]}, "body.tags.0"),
            ({"name": "S", "test_case_ids": ["not-an-id"]}, "body.test_case_ids.0"),
            ({"name": "S", "test_case_ids": [{"$gt": ""}]}, "body.test_case_ids.0"),
            ({"name": "S", "test_case_ids": {"$in": []}}, "body.test_case_ids"),
            ({"name": "S", "environment_id": {"$ne": None}}, "body.environment_id"),
            ({"name": "S", "browser_configuration_id": "xyz"}, "body.browser_configuration_id"),
            ({"name": "S", "description": "x" * 5001}, "body.description"),
            ({"name": "S", "owner": "alice"}, "body.owner"),
        ]
        for sent, location in table:
            assert_invalid(await client.post(SUITES, json=sent), location)

        assert await stored(db, SUITE_COLLECTION) == []

    async def test_non_json_body_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post(SUITES, content=b"name=Smoke")

        assert_problem(response, 415)


class TestGetSuite:
    async def test_returns_the_suite(self, client: httpx.AsyncClient) -> None:
        created = await create_suite(client, "Smoke", tags=["smoke"])

        response = await client.get(f"{SUITES}/{created['id']}")

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get(f"{SUITES}/{UNKNOWN_ID}"), 404)

        assert UNKNOWN_ID in body["detail"]

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(f"{SUITES}/not-an-id"), "path.id")


class TestUpdateSuite:
    async def test_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        [case] = await create_cases(client, "Login")
        created = await create_suite(
            client, "Smoke", description="Fast", tags=["smoke"], test_case_ids=[case]
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await client.patch(
            f"{SUITES}/{created['id']}", json={"name": "Nightly", "tags": ["a", "b", "a"]}
        )

        assert response.status_code == 200
        body = response.json()
        expected = {**created, "name": "Nightly", "tags": ["a", "b"], "version": 2}
        assert {**body, "updated_at": None} == {**expected, "updated_at": None}
        assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])
        assert (await client.get(f"{SUITES}/{created['id']}")).json() == body

    async def test_sets_and_clears_the_references(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        browser = await create_browser(client, "Chrome desktop")
        environment = await create_environment(client, "staging")
        created = await create_suite(client, "Smoke", description="Fast")
        url = f"{SUITES}/{created['id']}"

        set_response = await client.patch(
            url,
            json={"browser_configuration_id": browser["id"], "environment_id": environment["id"]},
        )
        assert set_response.status_code == 200, set_response.text
        document = await stored_suite(db, created["id"])
        assert document is not None
        assert document["browser_configuration_id"] == ObjectId(browser["id"])
        assert document["environment_id"] == ObjectId(environment["id"])

        cleared = await client.patch(
            url,
            json={"browser_configuration_id": None, "environment_id": None, "description": None},
        )
        assert cleared.status_code == 200
        body = cleared.json()
        assert (body["browser_configuration_id"], body["environment_id"]) == (None, None)
        assert body["description"] is None

    async def test_unknown_reference_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_suite(client, "Smoke")
        before = await stored(db, SUITE_COLLECTION)

        response = await client.patch(
            f"{SUITES}/{created['id']}", json={"name": "Other", "environment_id": UNKNOWN_ID}
        )

        assert_invalid(response, "body.environment_id")
        assert await stored(db, SUITE_COLLECTION) == before

    async def test_rename_to_a_taken_name_is_409_and_to_its_own_name_is_fine(
        self, client: httpx.AsyncClient
    ) -> None:
        await create_suite(client, "Smoke")
        nightly = await create_suite(client, "Nightly")
        url = f"{SUITES}/{nightly['id']}"

        body = assert_problem(await client.patch(url, json={"name": "Smoke"}), 409)
        assert "Smoke" in body["detail"]
        assert (await client.get(url)).json()["name"] == "Nightly"
        assert (await client.patch(url, json={"name": "Nightly"})).status_code == 200

    async def test_invalid_patch_is_422(self, client: httpx.AsyncClient) -> None:
        created = await create_suite(client, "Smoke")
        url = f"{SUITES}/{created['id']}"
        table: list[tuple[dict[str, Any], str]] = [
            ({"name": None}, "body"),
            ({"tags": None}, "body"),
            ({"name": ""}, "body.name"),
            ({"name": {"$gt": ""}}, "body.name"),
            ({"test_case_ids": [UNKNOWN_ID]}, "body.test_case_ids"),
            ({"environment_id": "nope"}, "body.environment_id"),
        ]
        for sent, location in table:
            assert_invalid(await client.patch(url, json=sent), location)

    async def test_unknown_suite_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.patch(f"{SUITES}/{UNKNOWN_ID}", json={"name": "X"}), 404)

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.patch(f"{SUITES}/123", json={"name": "X"}), "path.id")


class TestDeleteSuite:
    async def test_deletes_the_suite_but_keeps_its_test_cases(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case_ids = await create_cases(client, "Login", "Pay")
        created = await create_suite(client, "Smoke", test_case_ids=case_ids)

        response = await client.delete(f"{SUITES}/{created['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(f"{SUITES}/{created['id']}"), 404)
        assert [str(doc["_id"]) for doc in await stored(db, CASE_COLLECTION)] == case_ids

    async def test_unknown_suite_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete(f"{SUITES}/{UNKNOWN_ID}"), 404)

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.delete(f"{SUITES}/zz"), "path.id")


class TestListSuites:
    async def test_filters_by_any_of_the_tags(self, client: httpx.AsyncClient) -> None:
        await create_suite(client, "Smoke", tags=["smoke", "fast"])
        await create_suite(client, "Nightly", tags=["regression"])
        await create_suite(client, "Untagged")

        page = await _list(client, "tags=smoke,regression&sort_by=name&order=asc")
        repeated = await _list(client, "tags=fast&tags=regression&sort_by=name&order=asc")

        assert names(page) == ["Nightly", "Smoke"]
        assert page["total"] == 2
        assert names(repeated) == ["Nightly", "Smoke"]
        assert names(await _list(client, "tags=none")) == []

    async def test_q_finds_name_and_description_words_name_matches_first(
        self, client: httpx.AsyncClient
    ) -> None:
        # Created so that the default order (newest first) would put the weaker match first.
        await create_suite(client, "Checkout smoke", description="The happy path")
        await create_suite(client, "Nightly regression", description="Everything, slowly")
        await create_suite(client, "Payments", description="Checkout and refunds")

        assert names(await _list(client, "q=checkout")) == ["Checkout smoke", "Payments"]
        assert names(await _list(client, "q=CHECKOUT")) == ["Checkout smoke", "Payments"]
        assert names(await _list(client, "q=refunds")) == ["Payments"]
        assert names(await _list(client, "q=regression")) == ["Nightly regression"]
        empty = await _list(client, "q=nothing")
        assert (names(empty), empty["total"]) == ([], 0)

    async def test_q_with_sort_by_uses_that_sort(self, client: httpx.AsyncClient) -> None:
        await create_suite(client, "Payments", description="Checkout and refunds")
        await create_suite(client, "Checkout smoke")

        page = await _list(client, "q=checkout&sort_by=name&order=desc")

        assert names(page) == ["Payments", "Checkout smoke"]

    async def test_created_range_is_inclusive(self, client: httpx.AsyncClient) -> None:
        created = []
        for name in ("First", "Second", "Third"):
            created.append(await create_suite(client, name))
            await asyncio.sleep(0.005)
        middle = quote(created[1]["created_at"])

        assert names(await _list(client, f"created_from={middle}&order=asc")) == [
            "Second",
            "Third",
        ]
        assert names(await _list(client, f"created_to={middle}&order=asc")) == ["First", "Second"]
        both = await _list(client, f"created_from={middle}&created_to={middle}")
        assert names(both) == ["Second"]

    async def test_sorts_and_selects_fields(self, client: httpx.AsyncClient) -> None:
        for name in ("Bravo", "Alpha", "Charlie"):
            await create_suite(client, name, tags=["t"])

        page = await _list(client, "sort_by=name&order=asc&fields=name&limit=2")

        assert names(page) == ["Alpha", "Bravo"]
        assert all(set(item) == {"id", "name"} for item in page["items"])
        assert (page["total"], page["pages"]) == (3, 2)
        assert names(await _list(client, "")) == ["Charlie", "Alpha", "Bravo"]

    async def test_bad_parameters_are_422(self, client: httpx.AsyncClient) -> None:
        table = [
            ("sort_by=priority", "query.sort_by"),
            ("fields=name,owner", "query.fields"),
            ("created_from=yesterday", "query.created_from"),
            ("tag=smoke", "query.tag"),
            ("q=" + "x" * 501, "query.q"),
        ]
        for query, location in table:
            assert_invalid(await client.get(f"{SUITES}?{query}"), location)
