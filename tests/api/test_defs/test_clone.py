"""`POST /api/v1/tests/{id}/clone`: a draft copy with new ids and the same step content."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, create_browser, parse_time
from tests.api.test_defs.helpers import (
    TESTS,
    THREE_STEPS,
    all_cases,
    case_url,
    create_case,
    get_case,
    step_ids,
    stored_case,
)

KEY = "com.example.LoginTest.testValidLogin"
COPIED = [
    "description",
    "priority",
    "tags",
    "preconditions",
    "expected_result",
    "target_url",
    "owner",
    "template_id",
    "browser_configuration_id",
    "environment_id",
]


def _clone_url(case_id: str) -> str:
    return f"{TESTS}/{case_id}/clone"


@pytest.fixture
async def original(client: httpx.AsyncClient) -> dict[str, Any]:
    """An active case at version 2, with an automation key, a browser and three steps."""
    browser = await create_browser(client, "Chrome desktop")
    created = await create_case(
        client,
        "Valid login",
        description="A registered user signs in",
        status="active",
        priority="high",
        tags=["smoke", "login"],
        preconditions="A user exists",
        target_url="https://staging.example.com/login",
        owner="alice",
        automation_key=KEY,
        browser_configuration_id=browser["id"],
        steps=THREE_STEPS,
    )
    await client.patch(case_url(created["id"]), json={"expected_result": "The dashboard"})
    return await get_case(client, created["id"])


def _without_ids(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in step.items() if key != "id"} for step in steps]


class TestCloneCase:
    async def test_copies_into_a_draft_at_version_1_with_new_ids(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], original: dict[str, Any]
    ) -> None:
        response = await client.post(_clone_url(original["id"]))

        assert response.status_code == 201
        copy = response.json()
        assert response.headers["location"] == case_url(copy["id"])
        assert response.headers["etag"] == '"1"'
        assert copy["id"] != original["id"]
        assert copy["name"] == "Valid login (copy)"
        assert (copy["status"], copy["version"], copy["automation_key"]) == ("draft", 1, None)
        assert {key: copy[key] for key in COPIED} == {key: original[key] for key in COPIED}
        assert _without_ids(copy["steps"]) == _without_ids(original["steps"])
        assert not set(step_ids(copy)) & set(step_ids(original))
        assert len(set(step_ids(copy))) == 3
        assert parse_time(copy["created_at"]) > parse_time(original["created_at"])
        assert await get_case(client, copy["id"]) == copy
        stored = await stored_case(db, copy["id"])
        assert stored is not None
        assert (stored["status"], stored["version"], stored["automation_key"]) == (
            "draft",
            1,
            None,
        )

    async def test_leaves_the_original_unchanged(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], original: dict[str, Any]
    ) -> None:
        before = await stored_case(db, original["id"])

        await client.post(_clone_url(original["id"]))

        assert await stored_case(db, original["id"]) == before
        assert await get_case(client, original["id"]) == original

    async def test_takes_the_name_given(
        self, client: httpx.AsyncClient, original: dict[str, Any]
    ) -> None:
        response = await client.post(_clone_url(original["id"]), json={"name": " Login on Edge "})

        assert response.status_code == 201
        assert response.json()["name"] == "Login on Edge"

    async def test_an_empty_body_takes_the_default_name(
        self, client: httpx.AsyncClient, original: dict[str, Any]
    ) -> None:
        response = await client.post(_clone_url(original["id"]), json={})

        assert response.status_code == 201
        assert response.json()["name"] == "Valid login (copy)"

    async def test_the_default_name_stays_within_200_characters(
        self, client: httpx.AsyncClient
    ) -> None:
        long = await create_case(client, "L" * 200)

        copy = (await client.post(_clone_url(long["id"]), json={})).json()
        copy_of_copy = (await client.post(_clone_url(copy["id"]), json={})).json()

        assert copy["name"] == "L" * 193 + " (copy)"
        assert copy_of_copy["name"] == copy["name"]  # copies of copies never grow it

    async def test_cloning_twice_gives_two_independent_copies(
        self, client: httpx.AsyncClient, original: dict[str, Any]
    ) -> None:
        first = (await client.post(_clone_url(original["id"]))).json()
        second = (await client.post(_clone_url(original["id"]))).json()

        assert first["id"] != second["id"]
        assert not set(step_ids(first)) & set(step_ids(second))
        await client.patch(case_url(first["id"]), json={"name": "Changed"})
        assert (await get_case(client, second["id"]))["name"] == "Valid login (copy)"

    async def test_a_copy_of_a_case_without_steps_has_none(self, client: httpx.AsyncClient) -> None:
        empty = await create_case(client, "Empty")

        copy = (await client.post(_clone_url(empty["id"]))).json()

        assert copy["steps"] == []

    async def test_an_invalid_body_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], original: dict[str, Any]
    ) -> None:
        before = await all_cases(db)
        table: list[tuple[Any, str]] = [
            ({"name": ""}, "body.name"),
            ({"name": {"$gt": ""}}, "body.name"),
            ({"status": "active"}, "body.status"),
            ({"name": "x" * 201}, "body.name"),
            (["copy"], "body"),
        ]
        for body, location in table:
            assert_invalid(await client.post(_clone_url(original["id"]), json=body), location)

        assert await all_cases(db) == before

    async def test_unknown_id_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        assert_problem(await client.post(_clone_url(UNKNOWN_ID)), 404)
        assert await all_cases(db) == []

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.post(_clone_url("nope")), "path.id")

    async def test_the_copy_does_not_claim_the_automation_key(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], original: dict[str, Any]
    ) -> None:
        await client.post(_clone_url(original["id"]))
        await client.post(_clone_url(original["id"]))

        keys = [doc["automation_key"] for doc in await all_cases(db)]
        assert sorted(keys, key=str) == sorted([KEY, None, None], key=str)
        assert await db["test_cases"].count_documents({"_id": ObjectId(original["id"])}) == 1
