"""`/api/v1/tests/{id}/steps`: list, add, edit, delete and reorder a case's steps.

Every step change bumps the case's `version`, keeps `order` 1..n and never changes a step's id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.test_defs.schemas import MAX_STEPS
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem
from tests.api.test_defs.helpers import (
    STEP_FIELDS,
    TESTS,
    THREE_STEPS,
    all_cases,
    create_case,
    get_case,
    order_url,
    orders,
    step_body,
    step_ids,
    step_url,
    steps_url,
    stored_case,
)

UNKNOWN_STEP = "0123456789ab"


@pytest.fixture
async def case(client: httpx.AsyncClient) -> dict[str, Any]:
    """A case with three steps: navigate, type, click."""
    return await create_case(client, "Valid login", steps=THREE_STEPS)


async def _stored(db: AsyncDatabase[Any], case_id: str) -> dict[str, Any]:
    document = await stored_case(db, case_id)
    assert document is not None
    return document


def _actions(case: dict[str, Any]) -> list[str]:
    return [step["action"] for step in case["steps"]]


class TestListSteps:
    async def test_returns_the_steps_in_order_in_a_page_envelope(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        response = await client.get(steps_url(case["id"]))

        assert response.status_code == 200
        assert response.json() == {
            "items": case["steps"],
            "total": 3,
            "page": 1,
            "limit": 50,
            "pages": 1,
        }

    async def test_pages_split_the_steps(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        first = (await client.get(steps_url(case["id"]), params={"limit": 2})).json()
        second = (await client.get(steps_url(case["id"]), params={"limit": 2, "page": 2})).json()

        assert first["items"] == case["steps"][:2]
        assert second["items"] == case["steps"][2:]
        assert (second["total"], second["page"], second["limit"], second["pages"]) == (3, 2, 2, 2)

    async def test_a_case_without_steps_has_an_empty_page(self, client: httpx.AsyncClient) -> None:
        empty = await create_case(client, "Empty")

        page = (await client.get(steps_url(empty["id"]))).json()

        assert page == {"items": [], "total": 0, "page": 1, "limit": 50, "pages": 0}

    async def test_fields_returns_only_those_step_fields(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        response = await client.get(steps_url(case["id"]), params={"fields": "action,value"})

        assert response.status_code == 200, response.text
        assert response.json()["items"] == [
            {"id": step["id"], "action": step["action"], "value": step["value"]}
            for step in case["steps"]
        ]

    async def test_fields_with_id_and_order(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        response = await client.get(steps_url(case["id"]), params={"fields": "id,order"})

        assert response.status_code == 200, response.text
        assert response.json()["items"] == [
            {"id": step["id"], "order": step["order"]} for step in case["steps"]
        ]

    async def test_invalid_parameters_are_422(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        table: list[tuple[dict[str, str], str]] = [
            ({"fields": "name"}, "query.fields"),
            ({"fields": ""}, "query.fields"),
            ({"limit": "0"}, "query.limit"),
            ({"sort_by": "order"}, "query.sort_by"),
            ({"action": "click"}, "query.action"),
            ({"id[$ne]": "x"}, "query.id[$ne]"),
        ]
        for query, location in table:
            assert_invalid(await client.get(steps_url(case["id"]), params=query), location)

    async def test_unknown_case_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(steps_url(UNKNOWN_ID)), 404)

    async def test_malformed_case_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(steps_url("nope")), "path.id")


class TestAddStep:
    async def test_appends_with_a_new_id_and_the_next_order(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        sent = step_body("assert_url", value="/dashboard", timeout_ms=5000)

        response = await client.post(steps_url(case["id"]), json=sent)

        assert response.status_code == 201
        assert response.headers["etag"] == '"2"'
        step = response.json()
        assert set(step) == STEP_FIELDS
        assert step["id"] not in step_ids(case)
        assert step == {
            "id": step["id"],
            "order": 4,
            "action": "assert_url",
            "selector": None,
            "value": "/dashboard",
            "description": None,
            "expected": None,
            "timeout_ms": 5000,
            "optional": False,
            "screenshot_on_failure": True,
        }
        document = await _stored(db, case["id"])
        assert step_ids(document) == [*step_ids(case), step["id"]]
        assert orders(document) == [1, 2, 3, 4]
        assert document["version"] == 2
        assert (await get_case(client, case["id"]))["steps"][3] == step

    @pytest.mark.parametrize(("position", "index"), [(1, 0), (2, 1), (3, 2), (4, 3), (99, 3)])
    async def test_inserts_at_a_position_and_moves_the_rest_down(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        case: dict[str, Any],
        position: int,
        index: int,
    ) -> None:
        response = await client.post(
            steps_url(case["id"]), json=step_body("hover", selector="#menu", position=position)
        )

        assert response.status_code == 201, response.text
        step = response.json()
        assert "position" not in step
        assert step["order"] == index + 1
        expected_ids = step_ids(case)
        expected_ids.insert(index, step["id"])
        document = await _stored(db, case["id"])
        assert step_ids(document) == expected_ids
        assert orders(document) == [1, 2, 3, 4]
        assert "position" not in document["steps"][index]
        body = await get_case(client, case["id"])
        assert body["steps"][index] == step
        assert body["version"] == 2

    async def test_the_first_step_of_an_empty_case(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        empty = await create_case(client, "Empty")

        response = await client.post(steps_url(empty["id"]), json=step_body(position=1))

        assert response.status_code == 201
        assert response.json()["order"] == 1
        assert orders(await _stored(db, empty["id"])) == [1]

    async def test_invalid_step_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        before = await all_cases(db)
        table: list[tuple[dict[str, Any], str]] = [
            ({}, "body.action"),
            (step_body("teleport"), "body.action"),
            (step_body(position=0), "body.position"),
            (step_body(position=2**31 + 1), "body.position"),  # was a 500
            (step_body(position=2**63), "body.position"),
            (step_body(position=MAX_STEPS + 1), "body.position"),
            (step_body(timeout_ms=600_001), "body.timeout_ms"),
            (step_body(id="mine"), "body.id"),
            (step_body(order=1), "body.order"),
            (step_body(value={"$gt": ""}), "body.value"),
            (step_body(selector=["#a"]), "body.selector"),
        ]
        for body, location in table:
            assert_invalid(await client.post(steps_url(case["id"]), json=body), location)

        assert await all_cases(db) == before

    async def test_a_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        await client.post(steps_url(case["id"]), json=step_body())
        before = await all_cases(db)

        response = await client.post(
            steps_url(case["id"]), json=step_body(), headers={"If-Match": '"1"'}
        )

        assert_problem(response, 412)
        assert await all_cases(db) == before

    async def test_the_current_if_match_succeeds(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        response = await client.post(
            steps_url(case["id"]), json=step_body(), headers={"If-Match": '"1"'}
        )

        assert response.status_code == 201
        assert response.headers["etag"] == '"2"'

    async def test_unknown_case_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        assert_problem(await client.post(steps_url(UNKNOWN_ID), json=step_body()), 404)
        assert await all_cases(db) == []

    async def test_malformed_case_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.post(steps_url("nope"), json=step_body()), "path.id")

    async def test_a_case_holds_at_most_500_steps(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        full = await create_case(client, "Full", steps=[step_body()] * 500)
        before = await all_cases(db)

        response = await client.post(steps_url(full["id"]), json=step_body("hover"))

        body = assert_problem(response, 422)
        assert "500" in body["detail"]
        assert await all_cases(db) == before


class TestUpdateStep:
    async def test_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        target = case["steps"][1]

        response = await client.patch(
            step_url(case["id"], target["id"]),
            json={"value": "bob", "optional": True, "description": "User name"},
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        expected = {**target, "value": "bob", "optional": True, "description": "User name"}
        assert response.json() == expected
        document = await _stored(db, case["id"])
        assert document["version"] == 2
        body = await get_case(client, case["id"])
        assert body["steps"] == [case["steps"][0], expected, case["steps"][2]]

    async def test_null_clears_a_nullable_field(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        target = case["steps"][1]

        response = await client.patch(step_url(case["id"], target["id"]), json={"selector": None})

        assert response.status_code == 200
        assert (response.json()["selector"], response.json()["value"]) == (None, "alice")

    async def test_an_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        target = case["steps"][0]
        before = await all_cases(db)

        response = await client.patch(step_url(case["id"], target["id"]), json={})

        assert response.status_code == 200
        assert response.json() == target
        assert response.headers["etag"] == '"1"'
        assert await all_cases(db) == before

    async def test_an_empty_patch_still_checks_the_step_and_the_version(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        url = step_url(case["id"], case["steps"][0]["id"])

        assert_problem(await client.patch(step_url(case["id"], UNKNOWN_STEP), json={}), 404)
        assert_problem(await client.patch(step_url(UNKNOWN_ID, UNKNOWN_STEP), json={}), 404)
        assert_problem(await client.patch(url, json={}, headers={"If-Match": '"2"'}), 412)
        assert (await client.patch(url, json={}, headers={"If-Match": '"1"'})).status_code == 200

    async def test_invalid_values_are_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        url = step_url(case["id"], case["steps"][0]["id"])
        before = await all_cases(db)
        table: list[tuple[dict[str, Any], str]] = [
            ({"action": None}, "body"),
            ({"timeout_ms": None}, "body"),
            ({"action": "teleport"}, "body.action"),
            ({"id": "other"}, "body.id"),
            ({"order": 3}, "body.order"),
            ({"value": {"$gt": ""}}, "body.value"),
        ]
        for body, location in table:
            assert_invalid(await client.patch(url, json=body), location)

        assert await all_cases(db) == before

    async def test_unknown_step_is_404_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        before = await all_cases(db)

        response = await client.patch(step_url(case["id"], UNKNOWN_STEP), json={"value": "x"})

        body = assert_problem(response, 404)
        assert UNKNOWN_STEP in body["detail"]
        assert await all_cases(db) == before

    async def test_unknown_case_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.patch(step_url(UNKNOWN_ID, UNKNOWN_STEP), json={"value": "x"})

        assert_problem(response, 404)

    async def test_malformed_step_id_is_422(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        for bad_step in ("a$b", "x" * 65, "a.b", "$[]"):
            response = await client.patch(step_url(case["id"], bad_step), json={"value": "x"})
            assert_invalid(response, "path.step_id")

    async def test_malformed_case_id_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.patch(step_url("nope", UNKNOWN_STEP), json={"value": "x"})

        assert_invalid(response, "path.id")

    async def test_a_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        url = step_url(case["id"], case["steps"][0]["id"])
        await client.patch(url, json={"value": "one"})
        before = await all_cases(db)

        stale = await client.patch(url, json={"value": "two"}, headers={"If-Match": '"1"'})
        fresh = await client.patch(url, json={"value": "three"}, headers={"If-Match": '"2"'})

        assert_problem(stale, 412)
        assert fresh.status_code == 200
        document = await _stored(db, case["id"])
        assert (document["steps"][0]["value"], document["version"]) == ("three", 3)
        assert before[0]["steps"][0]["value"] == "one"


class TestDeleteStep:
    async def test_removes_it_and_renumbers_the_rest(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        first, middle, last = step_ids(case)

        response = await client.delete(step_url(case["id"], middle))

        assert response.status_code == 204
        assert response.content == b""
        assert response.headers["etag"] == '"2"'
        document = await _stored(db, case["id"])
        assert step_ids(document) == [first, last]
        assert orders(document) == [1, 2]
        assert document["version"] == 2
        body = await get_case(client, case["id"])
        assert body["steps"] == [case["steps"][0], {**case["steps"][2], "order": 2}]

    async def test_deleting_every_step_leaves_none(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        for step_id in step_ids(case):
            assert (await client.delete(step_url(case["id"], step_id))).status_code == 204

        document = await _stored(db, case["id"])
        assert (document["steps"], document["version"]) == ([], 4)

    async def test_deleting_twice_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        url = step_url(case["id"], case["steps"][0]["id"])
        await client.delete(url)
        before = await all_cases(db)

        assert_problem(await client.delete(url), 404)
        assert await all_cases(db) == before

    async def test_unknown_case_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete(step_url(UNKNOWN_ID, UNKNOWN_STEP)), 404)

    async def test_malformed_ids_are_422(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        assert_invalid(await client.delete(step_url("nope", UNKNOWN_STEP)), "path.id")
        assert_invalid(await client.delete(step_url(case["id"], "$x")), "path.step_id")

    async def test_a_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        await client.patch(step_url(case["id"], case["steps"][0]["id"]), json={"value": "x"})
        before = await all_cases(db)

        response = await client.delete(
            step_url(case["id"], case["steps"][1]["id"]), headers={"If-Match": '"1"'}
        )

        assert_problem(response, 412)
        assert await all_cases(db) == before


class TestReorderSteps:
    async def test_puts_the_steps_in_the_given_order(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        first, middle, last = case["steps"]
        new_order = [last["id"], first["id"], middle["id"]]

        response = await client.put(order_url(case["id"]), json={"step_ids": new_order})

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        expected = [
            {**last, "order": 1},
            {**first, "order": 2},
            {**middle, "order": 3},
        ]
        assert response.json() == expected
        document = await _stored(db, case["id"])
        assert step_ids(document) == new_order
        assert orders(document) == [1, 2, 3]
        assert document["version"] == 2
        assert (await get_case(client, case["id"]))["steps"] == expected

    async def test_the_same_order_still_counts_as_a_change(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        response = await client.put(order_url(case["id"]), json={"step_ids": step_ids(case)})

        assert response.status_code == 200
        assert response.json() == case["steps"]

    async def test_an_empty_list_for_a_case_without_steps(self, client: httpx.AsyncClient) -> None:
        empty = await create_case(client, "Empty")

        response = await client.put(order_url(empty["id"]), json={"step_ids": []})

        assert response.status_code == 200
        assert response.json() == []

    async def test_a_list_that_is_not_exactly_the_steps_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        first, middle, last = step_ids(case)
        before = await all_cases(db)
        table: dict[str, tuple[list[str], str]] = {
            "missing": ([last, first], middle),
            "extra": ([last, first, middle, UNKNOWN_STEP], UNKNOWN_STEP),
            "repeated": ([last, first, middle, first], first),
            "unknown": ([last, first, UNKNOWN_STEP], UNKNOWN_STEP),
            "empty": ([], first),
        }
        for label, (ids, named) in table.items():
            response = await client.put(order_url(case["id"]), json={"step_ids": ids})
            body = assert_invalid(response, "body.step_ids")
            assert named in body["detail"], label

        assert await all_cases(db) == before

    async def test_a_malformed_body_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        before = await all_cases(db)
        table: list[tuple[dict[str, Any], str]] = [
            ({}, "body.step_ids"),
            ({"step_ids": "abc"}, "body.step_ids"),
            ({"step_ids": [""]}, "body.step_ids.0"),
            ({"step_ids": [{"$gt": ""}]}, "body.step_ids.0"),
            ({"step_ids": [], "extra": 1}, "body.extra"),
        ]
        for body, location in table:
            assert_invalid(await client.put(order_url(case["id"]), json=body), location)

        assert await all_cases(db) == before

    async def test_a_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        await client.patch(step_url(case["id"], case["steps"][0]["id"]), json={"value": "x"})
        before = await all_cases(db)

        response = await client.put(
            order_url(case["id"]),
            json={"step_ids": step_ids(case)[::-1]},
            headers={"If-Match": '"1"'},
        )

        assert_problem(response, 412)
        assert await all_cases(db) == before

    async def test_unknown_case_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.put(order_url(UNKNOWN_ID), json={"step_ids": [UNKNOWN_STEP]})

        assert_problem(response, 404)

    async def test_malformed_case_id_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put(order_url("nope"), json={"step_ids": []})

        assert_invalid(response, "path.id")


class TestStepIdsAreStable:
    async def test_ids_survive_edits_inserts_deletes_and_reorders(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        first, middle, last = step_ids(case)

        await client.patch(step_url(case["id"], middle), json={"action": "select"})
        added = (await client.post(steps_url(case["id"]), json=step_body(position=1))).json()
        await client.delete(step_url(case["id"], first))
        await client.put(order_url(case["id"]), json={"step_ids": [last, middle, added["id"]]})

        document = await _stored(db, case["id"])
        assert step_ids(document) == [last, middle, added["id"]]
        assert orders(document) == [1, 2, 3]
        assert _actions(document) == ["click", "select", "click"]
        assert document["version"] == 5


class TestValuesAreStoredVerbatim:
    """Update pipelines rewrite the steps array; user strings in it are never expressions."""

    VALUES = ["$steps", "$$ROOT", '{"$literal": 1}', "$$REMOVE", "$concat"]

    def _step(self, text: str) -> dict[str, Any]:
        return step_body(
            "execute_script", selector=text, value=text, description=text, expected=text
        )

    def _assert_verbatim(self, document: dict[str, Any]) -> None:
        for step in document["steps"]:
            if step["action"] == "execute_script":
                text = step["value"]
                assert text in self.VALUES
                assert step["selector"] == step["description"] == step["expected"] == text
        assert sorted(
            step["value"] for step in document["steps"] if step["action"] == "execute_script"
        ) == sorted(self.VALUES)

    async def test_through_create_add_insert_delete_and_reorder(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(
            client, "Scripts", steps=[self._step(self.VALUES[0]), step_body()]
        )
        case_id = created["id"]
        for position, text in enumerate(self.VALUES[1:], start=1):
            response = await client.post(
                steps_url(case_id), json={**self._step(text), "position": position}
            )
            assert response.status_code == 201, response.text
            assert response.json()["value"] == text
        self._assert_verbatim(await _stored(db, case_id))

        await client.delete(step_url(case_id, created["steps"][1]["id"]))
        self._assert_verbatim(await _stored(db, case_id))

        ids = step_ids(await _stored(db, case_id))
        response = await client.put(order_url(case_id), json={"step_ids": ids[::-1]})
        assert response.status_code == 200
        document = await _stored(db, case_id)
        self._assert_verbatim(document)
        assert step_ids(document) == ids[::-1]
        assert orders(document) == [1, 2, 3, 4, 5]
        assert (await get_case(client, case_id))["steps"] == document["steps"]

    async def test_through_a_step_patch(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        target = case["steps"][0]["id"]
        for text in self.VALUES:
            response = await client.patch(step_url(case["id"], target), json={"value": text})
            assert response.json()["value"] == text
            assert (await _stored(db, case["id"]))["steps"][0]["value"] == text


class TestConcurrentStepWrites:
    async def test_concurrent_appends_all_land(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "Busy")
        count = 8

        responses = await asyncio.gather(
            *(
                client.post(steps_url(created["id"]), json=step_body(value=f"v{n}"))
                for n in range(count)
            )
        )

        assert [response.status_code for response in responses] == [201] * count
        added = {response.json()["id"] for response in responses}
        document = await _stored(db, created["id"])
        assert set(step_ids(document)) == added
        assert len(document["steps"]) == count
        assert orders(document) == list(range(1, count + 1))
        assert {step["value"] for step in document["steps"]} == {f"v{n}" for n in range(count)}
        assert document["version"] == 1 + count

    async def test_concurrent_inserts_at_the_front_all_land(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(steps_url(case["id"]), json=step_body(value=f"v{n}", position=1))
                for n in range(4)
            )
        )

        assert [response.status_code for response in responses] == [201] * 4
        document = await _stored(db, case["id"])
        assert step_ids(document)[4:] == step_ids(case)
        assert set(step_ids(document)[:4]) == {response.json()["id"] for response in responses}
        assert orders(document) == list(range(1, 8))
        assert document["version"] == 5

    async def test_concurrent_edits_of_two_steps_both_land(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        first, _, last = step_ids(case)

        responses = await asyncio.gather(
            client.patch(step_url(case["id"], first), json={"value": "https://a.example.com"}),
            client.patch(step_url(case["id"], last), json={"description": "Submit"}),
        )

        assert [response.status_code for response in responses] == [200, 200]
        document = await _stored(db, case["id"])
        assert document["steps"][0]["value"] == "https://a.example.com"
        assert document["steps"][2]["description"] == "Submit"
        assert document["version"] == 3

    async def test_concurrent_conditional_writes_from_one_version_let_only_one_win(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], case: dict[str, Any]
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(
                    steps_url(case["id"]),
                    json=step_body(value=f"v{n}"),
                    headers={"If-Match": '"1"'},
                )
                for n in range(4)
            )
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201, 412, 412, 412]
        document = await _stored(db, case["id"])
        assert (len(document["steps"]), document["version"]) == (4, 2)


WIDE = "\U0001d11e"  # 𝄞: 4 bytes in UTF-8 (and BSON), the most one character takes


def widest_step() -> dict[str, Any]:
    """A step with every text field at its maximum length, in 4-byte characters (64 kB)."""
    return step_body(
        "type",
        selector=WIDE * 2000,
        value=WIDE * 10_000,
        description=WIDE * 2000,
        expected=WIDE * 2000,
    )


# 65 of the widest steps take 4.17 MB as stored, under the 4 MiB a case's steps may take; 66 do not.
FITTING = 65


@pytest.fixture
async def big_case(client: httpx.AsyncClient) -> dict[str, Any]:
    """A case whose steps nearly fill 4 MiB: 65 of the widest steps and a small one."""
    return await create_case(client, "Big", steps=[widest_step()] * FITTING + [step_body()])


class TestStepsSize:
    """A case's steps take at most 4 MiB as stored (500 of the widest would take 32 MB), however
    they are written: created, appended, inserted or edited."""

    async def test_a_new_case_with_more_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            TESTS, json={"name": "Too big", "steps": [widest_step()] * (FITTING + 1)}
        )

        body = assert_invalid(response, "body.steps")
        assert "at most 4,194,304 (4 MiB)" in body["detail"]
        assert await all_cases(db) == []

    async def test_a_step_that_would_pass_the_limit_is_not_added(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], big_case: dict[str, Any]
    ) -> None:
        before = await all_cases(db)

        appended = await client.post(steps_url(big_case["id"]), json=widest_step())
        inserted = await client.post(
            steps_url(big_case["id"]), json={**widest_step(), "position": 1}
        )

        for response in (appended, inserted):
            body = assert_problem(response, 422)
            assert "4 MiB" in body["detail"], body
        assert await all_cases(db) == before
        small = await client.post(steps_url(big_case["id"]), json=step_body("hover"))
        assert small.status_code == 201, small.text

    async def test_an_edit_that_would_pass_the_limit_is_not_applied(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], big_case: dict[str, Any]
    ) -> None:
        small_id, wide_id = big_case["steps"][-1]["id"], big_case["steps"][0]["id"]
        grow = {"value": WIDE * 10_000, "description": WIDE * 2000}
        before = await all_cases(db)

        body = assert_problem(
            await client.patch(step_url(big_case["id"], small_id), json=grow), 422
        )

        assert "4 MiB" in body["detail"]
        assert await all_cases(db) == before
        # Edits that shrink the steps apply, and then there is room for the one refused.
        shrink = await client.patch(step_url(big_case["id"], wide_id), json={"value": "short"})
        assert shrink.status_code == 200, shrink.text
        grown = await client.patch(step_url(big_case["id"], small_id), json=grow)
        assert grown.status_code == 200, grown.text
