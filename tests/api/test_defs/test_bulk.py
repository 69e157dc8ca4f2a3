"""`POST /api/v1/tests/bulk`: create, update and delete many cases; one bad item fails alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, parse_time
from tests.api.test_defs.helpers import (
    BULK,
    THREE_STEPS,
    all_cases,
    create_case,
    insert_suite,
    orders,
    step_body,
    stored_case,
    suite_members,
)

KEY = "com.example.LoginTest.testValidLogin"
OTHER_UNKNOWN_ID = "6650f1c2a7b4e3d2c1b0a997"


async def _bulk(client: httpx.AsyncClient, *operations: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(BULK, json={"operations": list(operations)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert [result["index"] for result in body["results"]] == list(range(len(operations)))
    return body


def _create(name: str, **fields: Any) -> dict[str, Any]:
    return {"op": "create", "data": {"name": name, **fields}}


def _update(case_id: str | None, **data: Any) -> dict[str, Any]:
    return {"op": "update", "id": case_id, "data": data}


def _delete(case_id: str | None) -> dict[str, Any]:
    return {"op": "delete", "id": case_id}


def _failure(result: dict[str, Any], status: int) -> dict[str, Any]:
    """The result is a failure carrying a problem detail with this status; returns the problem."""
    assert result["status"] == "failed", result
    assert "id" not in result
    error: dict[str, Any] = result["error"]
    assert error["status"] == status, error
    assert error["type"].startswith("/problems/")
    assert error["title"]
    assert error["detail"]
    return error


def _totals(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["created"], body["updated"], body["deleted"], body["failed"]


class TestBulkCreate:
    async def test_creates_cases_with_their_steps(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = await _bulk(
            client,
            _create("Login", tags=["smoke"], steps=THREE_STEPS),
            _create("Logout", automation_key=KEY),
        )

        assert _totals(body) == (2, 0, 0, 0)
        assert [result["status"] for result in body["results"]] == ["created", "created"]
        assert all(set(result) == {"index", "status", "id"} for result in body["results"])
        stored = await all_cases(db)
        assert {str(doc["_id"]) for doc in stored} == {r["id"] for r in body["results"]}
        login = await stored_case(db, body["results"][0]["id"])
        assert login is not None
        assert (login["name"], login["tags"], login["version"], login["status"]) == (
            "Login",
            ["smoke"],
            1,
            "draft",
        )
        assert orders(login) == [1, 2, 3]
        assert len({step["id"] for step in login["steps"]}) == 3
        assert isinstance(login["created_at"], datetime)
        fetched = await client.get(f"/api/v1/tests/{body['results'][1]['id']}")
        assert fetched.json()["automation_key"] == KEY


class TestBulkMixed:
    async def test_valid_operations_land_and_invalid_ones_change_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        kept = await create_case(client, "Kept", automation_key=KEY)
        changed = await create_case(client, "Changed")
        doomed = await create_case(client, "Doomed")
        before_kept = await stored_case(db, kept["id"])

        body = await _bulk(
            client,
            _create("New"),  # 0
            _create("Bad status", status="done"),  # 1
            _update(changed["id"], priority="critical"),  # 2
            _update(UNKNOWN_ID, priority="low"),  # 3
            _delete(doomed["id"]),  # 4
            _delete(OTHER_UNKNOWN_ID),  # 5
            _update(None, priority="low"),  # 6
            _delete("not-an-id"),  # 7
            _create("Twin one", automation_key="twin"),  # 8
            _create("Twin two", automation_key="twin"),  # 9
            _create("Taken", automation_key=KEY),  # 10
            _update(kept["id"], status=None),  # 11
            {"op": "create", "data": {"name": {"$gt": ""}}},  # 12
            _update(kept["id"], **{"$set": {"name": "x"}}),  # 13
            _create("Bad step", steps=[step_body(value={"$gt": ""})]),  # 14
            _create("Bad ref", environment_id=UNKNOWN_ID),  # 15
        )
        results = body["results"]

        assert [result["status"] for result in results[:6]] == [
            "created",
            "failed",
            "updated",
            "failed",
            "deleted",
            "failed",
        ]
        assert _failure(results[1], 422)["errors"][0]["location"] == (
            "body.operations.1.data.status"
        )
        assert UNKNOWN_ID in _failure(results[3], 404)["detail"]
        assert OTHER_UNKNOWN_ID in _failure(results[5], 404)["detail"]
        assert _failure(results[6], 422)["errors"][0]["location"] == "body.operations.6.id"
        assert _failure(results[7], 422)["errors"][0]["location"] == "body.operations.7.id"
        twins = results[8:10]
        assert sorted(result["status"] for result in twins) == ["created", "failed"]
        loser = next(result for result in twins if result["status"] == "failed")
        assert "automation_key" in _failure(loser, 409)["detail"]
        assert "automation_key" in _failure(results[10], 409)["detail"]
        _failure(results[11], 422)
        assert _failure(results[12], 422)["errors"][0]["location"].startswith(
            "body.operations.12.data.name"
        )
        assert _failure(results[13], 422)["errors"][0]["location"].startswith(
            "body.operations.13.data.$set"
        )
        assert _failure(results[14], 422)["errors"][0]["location"].startswith(
            "body.operations.14.data.steps.0.value"
        )
        assert _failure(results[15], 422)["errors"][0]["location"] == (
            "body.operations.15.data.environment_id"
        )
        assert _totals(body) == (2, 1, 1, 12)

        stored = {doc["name"]: doc for doc in await all_cases(db)}
        twin = next(result for result in twins if result["status"] == "created")
        assert set(stored) == {
            "Kept",
            "Changed",
            "New",
            "Twin one" if twin is twins[0] else "Twin two",
        }
        assert stored["Kept"] == before_kept
        assert stored["Changed"]["priority"] == "critical"
        assert str(stored["New"]["_id"]) == results[0]["id"]

    async def test_an_unknown_op_or_malformed_envelope_is_422_and_nothing_is_written(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({"operations": [_create("A"), {"op": "upsert", "data": {}}]}, "body.operations.1.op"),
            ({"operations": [_create("A"), {"op": "create", "data": "x"}]}, "body.operations.1"),
            ({"operations": [_create("A"), {"op": "create", "extra": 1}]}, "body.operations.1"),
            ({"operations": []}, "body.operations"),
            ({"operations": {"$gt": ""}}, "body.operations"),
            ({}, "body.operations"),
        ]
        for request, location in table:
            assert_invalid(await client.post(BULK, json=request), location)

        assert await all_cases(db) == []


class TestBulkUpdate:
    async def test_bumps_the_version_and_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Login", owner="alice", steps=THREE_STEPS)

        body = await _bulk(client, _update(created["id"], status="active", tags=["smoke"]))

        assert body["results"] == [{"index": 0, "status": "updated", "id": created["id"]}]
        assert _totals(body) == (0, 1, 0, 0)
        fetched = await client.get(f"/api/v1/tests/{created['id']}")
        assert fetched.headers["etag"] == '"2"'
        after = fetched.json()
        assert after == {
            **created,
            "status": "active",
            "tags": ["smoke"],
            "version": 2,
            "updated_at": after["updated_at"],
        }
        assert parse_time(after["updated_at"]) >= parse_time(created["updated_at"])

    async def test_taking_an_existing_automation_key_is_409_for_that_item(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_case(client, "Keyed", automation_key=KEY)
        other = await create_case(client, "Other")
        third = await create_case(client, "Third")
        before = await all_cases(db)

        body = await _bulk(
            client, _update(other["id"], automation_key=KEY), _update(third["id"], owner="bob")
        )

        _failure(body["results"][0], 409)
        assert body["results"][1]["status"] == "updated"
        assert (await all_cases(db))[:2] == before[:2]
        stored = await stored_case(db, third["id"])
        assert stored is not None
        assert (stored["owner"], stored["version"]) == ("bob", 2)

    async def test_an_unknown_reference_is_422_at_that_item(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Login")
        before = await all_cases(db)

        body = await _bulk(client, _update(created["id"], browser_configuration_id=UNKNOWN_ID))

        error = _failure(body["results"][0], 422)
        assert error["errors"][0]["location"] == "body.operations.0.data.browser_configuration_id"
        assert await all_cases(db) == before

    async def test_an_update_with_nothing_to_change_is_422_at_that_item(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Login")
        other = await create_case(client, "Other")
        before = await all_cases(db)

        body = await _bulk(client, _update(created["id"]), _update(other["id"], owner="bob"))

        error = _failure(body["results"][0], 422)
        assert error["errors"][0]["location"] == "body.operations.0.data"
        assert body["results"][1]["status"] == "updated"
        assert (await all_cases(db))[0] == before[0]
        stored = await stored_case(db, other["id"])
        assert stored is not None
        assert (stored["owner"], stored["version"]) == ("bob", 2)


class TestBulkRepeatedIds:
    """An id named twice in one bulk would make its results say more than happened (two
    deletions of one case, an update of a case already gone): each repeat fails alone."""

    async def test_deleting_twice_then_updating_reports_one_deletion(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Doomed")
        other = await create_case(client, "Other")

        body = await _bulk(
            client,
            _delete(created["id"]),
            _delete(created["id"]),
            _update(created["id"], owner="bob"),
            _update(other["id"], owner="carol"),
        )

        assert body["results"][0] == {"index": 0, "status": "deleted", "id": created["id"]}
        for index in (1, 2):
            error = _failure(body["results"][index], 422)
            assert [e["location"] for e in error["errors"]] == [f"body.operations.{index}.id"]
            assert "operations.0" in error["detail"]
            assert created["id"] in error["detail"]
        assert body["results"][3]["status"] == "updated"
        assert _totals(body) == (0, 1, 1, 2)
        assert [doc["name"] for doc in await all_cases(db)] == ["Other"]

    async def test_a_second_update_of_one_case_fails_and_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Login")

        body = await _bulk(
            client, _update(created["id"], owner="a"), _update(created["id"], name="B")
        )

        assert body["results"][0]["status"] == "updated"
        assert "operations.0" in _failure(body["results"][1], 422)["detail"]
        stored = await stored_case(db, created["id"])
        assert stored is not None
        assert (stored["owner"], stored["name"], stored["version"]) == ("a", "Login", 2)

    async def test_a_repeat_of_an_item_that_failed_still_fails(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Login")
        before = await all_cases(db)

        body = await _bulk(
            client,
            _update(created["id"], status="done"),
            _delete(created["id"]),
            _delete(UNKNOWN_ID),
            _delete(UNKNOWN_ID),
        )

        _failure(body["results"][0], 422)
        assert "operations.0" in _failure(body["results"][1], 422)["detail"]
        _failure(body["results"][2], 404)
        assert "operations.2" in _failure(body["results"][3], 422)["detail"]
        assert await all_cases(db) == before


class TestBulkDelete:
    async def test_deleted_cases_leave_every_suite(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        ids = [(await create_case(client, name))["id"] for name in ("A", "B", "C")]
        first = await insert_suite(db, "First", ids)
        second = await insert_suite(db, "Second", [ids[2], ids[0]])

        body = await _bulk(client, _delete(ids[0]), _delete(ids[1]), _delete(UNKNOWN_ID))

        assert _totals(body) == (0, 0, 2, 1)
        assert await suite_members(db, first) == [ids[2]]
        assert await suite_members(db, second) == [ids[2]]
        assert [str(doc["_id"]) for doc in await all_cases(db)] == [ids[2]]

    async def test_a_failed_delete_keeps_the_case_in_its_suites(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "A")
        suite = await insert_suite(db, "Suite", [created["id"]])

        body = await _bulk(client, _delete(created["id"].upper() + "0"))

        _failure(body["results"][0], 422)
        assert await suite_members(db, suite) == [created["id"]]


class TestBulkBatches:
    """On the embedded engine the writes go in batches of `EMBEDDED_WRITE_BATCH`, one after the
    other; on MongoDB in one command. Each item's outcome is the same either way."""

    async def test_a_bulk_just_over_one_batch_reports_each_item_at_its_index(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        target = await create_case(client, "Target")
        first_batch = [
            _update(target["id"], owner="bob"),
            _create("Twin first", automation_key="twin"),
            *(_create(f"Case {n}") for n in range(EMBEDDED_WRITE_BATCH - 2)),
        ]
        second_batch = [
            _create("Twin second", automation_key="twin"),  # the first twin is stored by now
            _delete(UNKNOWN_ID),
            _create("Last"),
        ]

        body = await _bulk(client, *first_batch, *second_batch)

        results = body["results"]
        assert results[0] == {"index": 0, "status": "updated", "id": target["id"]}
        assert {r["status"] for r in results[1:EMBEDDED_WRITE_BATCH]} == {"created"}
        twin = _failure(results[EMBEDDED_WRITE_BATCH], 409)
        assert "automation_key" in twin["detail"]
        assert UNKNOWN_ID in _failure(results[EMBEDDED_WRITE_BATCH + 1], 404)["detail"]
        assert results[EMBEDDED_WRITE_BATCH + 2]["status"] == "created"
        assert _totals(body) == (EMBEDDED_WRITE_BATCH, 1, 0, 2)
        stored = {str(doc["_id"]): doc for doc in await all_cases(db)}
        created = {r["id"] for r in results if r["status"] == "created"}
        assert set(stored) == created | {target["id"]}
        assert stored[results[1]["id"]]["name"] == "Twin first"
        assert stored[results[-1]["id"]]["name"] == "Last"
        assert (stored[target["id"]]["owner"], stored[target["id"]]["version"]) == ("bob", 2)


class TestBulkLimits:
    async def test_1000_operations_are_accepted(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        operations = [_delete(str(ObjectId())) for _ in range(1000)]

        body = await _bulk(client, *operations)

        assert _totals(body) == (0, 0, 0, 1000)
        assert {result["error"]["status"] for result in body["results"]} == {404}

    async def test_1001_operations_are_422_and_nothing_is_written(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        operations = [_create("Never")] + [_delete(str(ObjectId())) for _ in range(1000)]

        response = await client.post(BULK, json={"operations": operations})

        body = assert_invalid(response, "body.operations")
        assert "1000" in body["detail"]
        assert await all_cases(db) == []

    async def test_a_body_that_is_not_json_is_415(self, client: httpx.AsyncClient) -> None:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = await client.post(
                BULK, content=b"{}", headers={"content-type": content_type}
            )
            assert_problem(response, 415)
