"""What the test case tests share: routes, bodies, creation helpers and stored-state readers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from documents.test_defs import StepAction, TestCase, TestStep

TESTS = "/api/v1/tests"
BULK = f"{TESTS}/bulk"
CASE_COLLECTION = "test_cases"
SUITE_COLLECTION = "test_suites"
STEP_FIELDS = {
    "id",
    "order",
    "action",
    "selector",
    "value",
    "description",
    "expected",
    "timeout_ms",
    "optional",
    "screenshot_on_failure",
}


def case_url(case_id: str) -> str:
    return f"{TESTS}/{case_id}"


def steps_url(case_id: str) -> str:
    return f"{TESTS}/{case_id}/steps"


def step_url(case_id: str, step_id: str) -> str:
    return f"{TESTS}/{case_id}/steps/{step_id}"


def order_url(case_id: str) -> str:
    return f"{TESTS}/{case_id}/steps/order"


def step_body(action: str = "click", **fields: Any) -> dict[str, Any]:
    return {"action": action, **fields}


def case_body(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


THREE_STEPS: list[dict[str, Any]] = [
    step_body("navigate", value="https://staging.example.com/login"),
    step_body("type", selector="#username", value="alice"),
    step_body("click", selector="button[type=submit]"),
]


async def create_case(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(TESTS, json=case_body(name, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def get_case(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    response = await client.get(case_url(case_id))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def stored_case(db: AsyncDatabase[Any], case_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await db[CASE_COLLECTION].find_one({"_id": ObjectId(case_id)})
    return found


async def all_cases(db: AsyncDatabase[Any]) -> list[dict[str, Any]]:
    """Every stored test case, in `_id` order, exactly as MongoDB holds it."""
    return await db[CASE_COLLECTION].find({}).sort("_id", 1).to_list()


def step_ids(case: dict[str, Any]) -> list[str]:
    """The ids of a case's steps (API body or stored document), in array order."""
    return [step["id"] for step in case["steps"]]


def orders(case: dict[str, Any]) -> list[int]:
    return [step["order"] for step in case["steps"]]


async def insert_suite(
    db: AsyncDatabase[Any], name: str, case_ids: list[str], **fields: Any
) -> ObjectId:
    """A suite listing these cases, inserted directly (as the collection's validator wants it)."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    document = {
        "name": name,
        "description": None,
        "tags": [],
        "test_case_ids": [ObjectId(case_id) for case_id in case_ids],
        "browser_configuration_id": None,
        "environment_id": None,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    result = await db[SUITE_COLLECTION].insert_one(document)
    inserted: ObjectId = result.inserted_id
    return inserted


async def suite_members(db: AsyncDatabase[Any], suite_id: ObjectId) -> list[str]:
    found = await db[SUITE_COLLECTION].find_one({"_id": suite_id})
    assert found is not None
    return [str(case_id) for case_id in found["test_case_ids"]]


MIB = 1024 * 1024


async def insert_oversized_case(db: AsyncDatabase[Any], *, value: str) -> str:
    """A case with one step holding `value`, inserted directly: data past the API's bounds, as
    another client or an earlier version could have left it. Its id."""
    case = TestCase(name="Oversized", steps=[TestStep(action=StepAction.TYPE, value=value)])
    case.id = PydanticObjectId()
    await db[CASE_COLLECTION].insert_one(case.model_dump(by_alias=True, exclude={"revision_id"}))
    return str(case.id)
