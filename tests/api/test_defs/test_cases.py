"""`/api/v1/tests` and `/tests/{id}`: create, read, partial update with versions and `If-Match`,
unique automation keys, and bodies that try to smuggle MongoDB operators."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, create_browser, parse_time
from tests.api.test_defs.helpers import (
    CASE_COLLECTION,
    STEP_FIELDS,
    TESTS,
    THREE_STEPS,
    all_cases,
    case_body,
    case_url,
    create_case,
    get_case,
    orders,
    step_body,
    step_ids,
    stored_case,
)

STEP_ID = re.compile(r"^[0-9a-f]{12}$")


class TestCreateCase:
    async def test_answers_201_with_location_etag_and_the_full_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(TESTS, json=case_body("Valid login"))

        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"{TESTS}/{body['id']}"
        assert response.headers["etag"] == '"1"'
        assert body == {
            "id": body["id"],
            "created_at": body["created_at"],
            "updated_at": body["created_at"],
            "name": "Valid login",
            "description": None,
            "status": "draft",
            "priority": "medium",
            "tags": [],
            "preconditions": None,
            "expected_result": None,
            "target_url": None,
            "owner": None,
            "automation_key": None,
            "template_id": None,
            "browser_configuration_id": None,
            "environment_id": None,
            "version": 1,
            "steps": [],
        }
        assert parse_time(body["created_at"]).tzinfo is not None

    async def test_location_resolves_to_the_created_case(self, client: httpx.AsyncClient) -> None:
        response = await client.post(TESTS, json=case_body("Valid login", steps=THREE_STEPS))

        fetched = await client.get(response.headers["location"])

        assert fetched.status_code == 200
        assert fetched.json() == response.json()
        assert fetched.headers["etag"] == '"1"'

    async def test_each_step_gets_a_stable_id_and_order_1_to_n(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = await create_case(client, "Valid login", steps=THREE_STEPS)

        ids = step_ids(body)
        assert len(set(ids)) == 3
        assert all(STEP_ID.match(step_id) for step_id in ids)
        assert orders(body) == [1, 2, 3]
        for sent, step in zip(THREE_STEPS, body["steps"], strict=True):
            assert set(step) == STEP_FIELDS
            assert {key: step[key] for key in sent} == sent
            assert (step["timeout_ms"], step["optional"], step["screenshot_on_failure"]) == (
                30_000,
                False,
                True,
            )
        document = await stored_case(db, body["id"])
        assert document is not None
        assert step_ids(document) == ids
        assert orders(document) == [1, 2, 3]
        assert (await get_case(client, body["id"]))["steps"] == body["steps"]

    async def test_stores_every_field_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        browser = await create_browser(client, "Chrome desktop")
        sent: dict[str, Any] = {
            "name": "Valid login",
            "description": "A registered user signs in",
            "status": "active",
            "priority": "critical",
            "tags": ["smoke", "login"],
            "preconditions": "A user exists",
            "expected_result": "The dashboard shows",
            "target_url": "https://staging.example.com/login",
            "owner": "alice",
            "automation_key": "com.example.LoginTest.testValidLogin",
        }

        body = await create_case(client, **sent, browser_configuration_id=browser["id"])

        assert {key: body[key] for key in sent} == sent
        assert body["browser_configuration_id"] == browser["id"]
        document = await stored_case(db, body["id"])
        assert document is not None
        assert {key: document[key] for key in sent} == sent
        assert document["browser_configuration_id"] == ObjectId(browser["id"])
        assert document["version"] == 1

    async def test_repeated_tags_are_kept_once(self, client: httpx.AsyncClient) -> None:
        body = await create_case(client, "Tags", tags=["smoke", "login", "smoke"])

        assert body["tags"] == ["smoke", "login"]

    async def test_invalid_body_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({}, "body.name"),
            ({"name": ""}, "body.name"),
            ({"name": "x" * 201}, "body.name"),
            ({"name": "Bad status", "status": "done"}, "body.status"),
            ({"name": "Bad priority", "priority": "urgent"}, "body.priority"),
            ({"name": "Bad tag", "tags": ["two words"]}, "body.tags.0"),
            ({"name": "Bad tags", "tags": "smoke"}, "body.tags"),
            ({"name": "Bad url", "target_url": "ftp://example.com"}, "body.target_url"),
            ({"name": "Typo", "priorty": "high"}, "body.priorty"),
            ({"name": "Version", "version": 7}, "body.version"),
            ({"name": "Bad action", "steps": [step_body("teleport")]}, "body.steps.0.action"),
            ({"name": "No action", "steps": [{"value": "x"}]}, "body.steps.0.action"),
            ({"name": "Step id", "steps": [step_body(id="mine")]}, "body.steps.0.id"),
            ({"name": "Timeout", "steps": [step_body(timeout_ms=-1)]}, "body.steps.0.timeout_ms"),
            ({"name": "Ref", "environment_id": "not-an-id"}, "body.environment_id"),
            ({"name": "Too many", "steps": [step_body()] * 501}, "body.steps"),
        ]
        for body, location in table:
            assert_invalid(await client.post(TESTS, json=body), location)

        assert await all_cases(db) == []

    async def test_a_reference_to_an_unknown_configuration_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for field in ("browser_configuration_id", "environment_id"):
            response = await client.post(TESTS, json=case_body("Ref", **{field: UNKNOWN_ID}))
            body = assert_invalid(response, f"body.{field}")
            assert UNKNOWN_ID in body["detail"]

        assert await all_cases(db) == []

    async def test_a_body_that_is_not_json_is_415(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            TESTS, content=b"name=Valid+login", headers={"content-type": "text/plain"}
        )

        assert_problem(response, 415)
        assert await all_cases(db) == []


class TestOperatorInjectionInBodies:
    """Values shaped like MongoDB operators are refused (422), never stored or interpreted."""

    async def test_on_create_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({"name": {"$gt": ""}}, "body.name"),
            ({"name": "Status", "status": {"$ne": "draft"}}, "body.status"),
            ({"name": "Tags", "tags": [{"$gt": ""}]}, "body.tags.0"),
            ({"name": "Tags", "tags": {"$in": ["smoke"]}}, "body.tags"),
            ({"name": "Tags", "tags": ["$where"]}, "body.tags.0"),
            ({"name": "Owner", "owner": {"$regex": ".*"}}, "body.owner"),
            ({"name": "Step", "steps": [step_body(value={"$gt": ""})]}, "body.steps.0.value"),
            ({"name": "Step", "steps": [{"action": {"$literal": "click"}}]}, "body.steps.0"),
        ]
        for body, location in table:
            assert_invalid(await client.post(TESTS, json=body), location)

        assert await all_cases(db) == []

    async def test_on_update_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login")
        before = await all_cases(db)
        table: list[tuple[dict[str, Any], str]] = [
            ({"name": {"$gt": ""}}, "body.name"),
            ({"status": {"$ne": "draft"}}, "body.status"),
            ({"tags": [{"$gt": ""}]}, "body.tags.0"),
            ({"$set": {"name": "x"}}, "body.$set"),
            ({"version": {"$inc": 5}}, "body.version"),
        ]
        for body, location in table:
            assert_invalid(await client.patch(case_url(created["id"]), json=body), location)

        assert await all_cases(db) == before


class TestGetCase:
    async def test_returns_the_case_with_its_version_as_etag(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create_case(client, "Valid login", steps=THREE_STEPS)
        await client.patch(case_url(created["id"]), json={"priority": "high"})

        response = await client.get(case_url(created["id"]))

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        assert response.json() == {
            **created,
            "priority": "high",
            "version": 2,
            "updated_at": response.json()["updated_at"],
        }

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        await create_case(client, "Valid login")

        body = assert_problem(await client.get(case_url(UNKNOWN_ID)), 404)

        assert UNKNOWN_ID in body["detail"]

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        for bad_id in ("not-an-id", "123", "6650f1c2a7b4e3d2c1b0a99z"):
            assert_invalid(await client.get(case_url(bad_id)), "path.id")


class TestUpdateCase:
    async def test_changes_only_the_fields_sent_and_bumps_the_version(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(
            client, "Valid login", tags=["smoke"], owner="alice", steps=THREE_STEPS
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await client.patch(
            case_url(created["id"]), json={"status": "active", "tags": ["smoke", "login"]}
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        body = response.json()
        expected = {**created, "status": "active", "tags": ["smoke", "login"], "version": 2}
        assert {**body, "updated_at": None} == {**expected, "updated_at": None}
        assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])
        assert await get_case(client, created["id"]) == body
        document = await stored_case(db, created["id"])
        assert document is not None
        assert (document["status"], document["owner"], document["version"]) == (
            "active",
            "alice",
            2,
        )
        assert step_ids(document) == step_ids(created)

    async def test_every_change_bumps_the_version_by_one(self, client: httpx.AsyncClient) -> None:
        created = await create_case(client, "Valid login")
        url = case_url(created["id"])

        versions = []
        for change in ({"priority": "high"}, {"priority": "high"}, {"name": "Login"}):
            response = await client.patch(url, json=change)
            versions.append((response.json()["version"], response.headers["etag"]))

        assert versions == [(2, '"2"'), (3, '"3"'), (4, '"4"')]

    async def test_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login")
        before = await all_cases(db)

        response = await client.patch(case_url(created["id"]), json={})

        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        assert response.json() == created
        assert await all_cases(db) == before

    async def test_null_clears_a_nullable_field(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login", owner="alice", description="Signs in")

        response = await client.patch(case_url(created["id"]), json={"owner": None})

        assert response.status_code == 200
        assert (response.json()["owner"], response.json()["description"]) == (None, "Signs in")
        document = await stored_case(db, created["id"])
        assert document is not None
        assert (document["owner"], document["description"]) == (None, "Signs in")

    async def test_invalid_values_are_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login", steps=THREE_STEPS)
        before = await all_cases(db)
        table: list[tuple[dict[str, Any], str]] = [
            ({"name": None}, "body"),
            ({"status": None}, "body"),
            ({"tags": None}, "body"),
            ({"status": "done", "owner": "bob"}, "body.status"),
            ({"priority": "urgent"}, "body.priority"),
            ({"steps": []}, "body.steps"),
            ({"version": 9}, "body.version"),
            ({"environment_id": UNKNOWN_ID}, "body.environment_id"),
        ]
        for body, location in table:
            assert_invalid(await client.patch(case_url(created["id"]), json=body), location)

        assert await all_cases(db) == before

    async def test_unknown_id_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for headers in ({}, {"If-Match": '"1"'}):
            response = await client.patch(
                case_url(UNKNOWN_ID), json={"priority": "high"}, headers=headers
            )
            assert_problem(response, 404)

        assert await all_cases(db) == []

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.patch(case_url("nope"), json={"name": "x"}), "path.id")


class TestOptimisticConcurrency:
    async def test_a_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login")
        await client.patch(case_url(created["id"]), json={"priority": "high"})
        before = await all_cases(db)

        response = await client.patch(
            case_url(created["id"]), json={"name": "Stale"}, headers={"If-Match": '"1"'}
        )

        body = assert_problem(response, 412)
        assert '"2"' in body["detail"]
        assert await all_cases(db) == before

    async def test_the_current_version_succeeds(self, client: httpx.AsyncClient) -> None:
        created = await create_case(client, "Valid login")

        response = await client.patch(
            case_url(created["id"]), json={"name": "Fresh"}, headers={"If-Match": '"1"'}
        )

        assert response.status_code == 200
        assert (response.json()["name"], response.json()["version"]) == ("Fresh", 2)
        assert response.headers["etag"] == '"2"'

    async def test_any_of_several_tags_matches(self, client: httpx.AsyncClient) -> None:
        created = await create_case(client, "Valid login")

        response = await client.patch(
            case_url(created["id"]), json={"name": "Fresh"}, headers={"If-Match": '"7", "1"'}
        )

        assert response.status_code == 200

    async def test_a_tag_that_is_not_a_strong_version_never_matches(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login")
        before = await all_cases(db)

        # Digits beyond any version (past 64 bits: was a 500), and non-ASCII digits.
        huge = '"' + "9" * 30 + '"'
        tags = ['W/"1"', '"one"', huge, f'{huge}, "2"', '"\u00b9"']
        for header in (tag.encode("latin-1") for tag in tags):
            response = await client.patch(
                case_url(created["id"]), json={"name": "x"}, headers={b"If-Match": header}
            )
            assert_problem(response, 412)
        for malformed in ("1", ""):  # not entity tags at all: invalid input
            response = await client.patch(
                case_url(created["id"]), json={"name": "x"}, headers={"If-Match": malformed}
            )
            assert_problem(response, 422)

        assert await all_cases(db) == before

    async def test_star_always_matches(self, client: httpx.AsyncClient) -> None:
        created = await create_case(client, "Valid login")
        await client.patch(case_url(created["id"]), json={"priority": "high"})

        response = await client.patch(
            case_url(created["id"]), json={"name": "Any"}, headers={"If-Match": "*"}
        )

        assert response.status_code == 200
        assert response.json()["version"] == 3

    async def test_the_second_of_two_writers_from_the_same_version_loses(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Valid login")
        read = await client.get(case_url(created["id"]))
        etag = read.headers["etag"]

        first = await client.patch(
            case_url(created["id"]), json={"owner": "alice"}, headers={"If-Match": etag}
        )
        second = await client.patch(
            case_url(created["id"]), json={"owner": "bob"}, headers={"If-Match": etag}
        )

        assert first.status_code == 200
        assert_problem(second, 412)
        document = await stored_case(db, created["id"])
        assert document is not None
        assert (document["owner"], document["version"]) == ("alice", 2)

    async def test_an_empty_patch_with_a_stale_version_is_412(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create_case(client, "Valid login")

        response = await client.patch(case_url(created["id"]), json={}, headers={"If-Match": '"5"'})

        assert_problem(response, 412)

    async def test_an_empty_patch_with_the_current_version_succeeds(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create_case(client, "Valid login")

        response = await client.patch(case_url(created["id"]), json={}, headers={"If-Match": '"1"'})

        assert response.status_code == 200
        assert response.json() == created


class TestUniqueAutomationKey:
    KEY = "com.example.LoginTest.testValidLogin"

    async def test_creating_a_taken_key_is_409_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_case(client, "Valid login", automation_key=self.KEY)
        before = await all_cases(db)

        response = await client.post(TESTS, json=case_body("Other login", automation_key=self.KEY))

        body = assert_problem(response, 409)
        assert self.KEY in body["detail"]
        assert await all_cases(db) == before

    async def test_changing_to_a_taken_key_is_409_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_case(client, "Valid login", automation_key=self.KEY)
        other = await create_case(client, "Other login", automation_key="other")
        before = await all_cases(db)

        response = await client.patch(
            case_url(other["id"]), json={"automation_key": self.KEY, "name": "Renamed"}
        )

        assert_problem(response, 409)
        assert await all_cases(db) == before

    async def test_cases_without_a_key_do_not_conflict(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_case(client, "First")
        await create_case(client, "Second", automation_key=None)
        third = await create_case(client, "Third", automation_key="k")

        response = await client.patch(case_url(third["id"]), json={"automation_key": None})

        assert response.status_code == 200
        assert [doc["automation_key"] for doc in await all_cases(db)] == [None, None, None]

    async def test_keeping_its_own_key_is_not_a_conflict(self, client: httpx.AsyncClient) -> None:
        created = await create_case(client, "Valid login", automation_key=self.KEY)

        response = await client.patch(
            case_url(created["id"]), json={"automation_key": self.KEY, "priority": "high"}
        )

        assert response.status_code == 200

    async def test_a_released_key_can_be_taken(self, client: httpx.AsyncClient) -> None:
        first = await create_case(client, "Valid login", automation_key=self.KEY)
        await client.patch(case_url(first["id"]), json={"automation_key": "renamed"})

        second = await create_case(client, "Other login", automation_key=self.KEY)

        assert second["automation_key"] == self.KEY

    async def test_the_database_refuses_a_duplicate_key(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_case(client, "Valid login", automation_key=self.KEY)
        [document] = await all_cases(db)

        with pytest.raises(DuplicateKeyError):
            await db[CASE_COLLECTION].insert_one({**document, "_id": ObjectId()})
