"""Deleting a configuration or environment that cases, suites or runs still reference.

A referenced one is kept (409 naming a few of the referencing resources, with counts) unless the
client asks `?force=true`, which clears the references and then deletes. The runs these tests need
are written straight to the database, as a run created by the execution routes would be.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import (
    BROWSER_COLLECTION,
    BROWSERS,
    ENVIRONMENT_COLLECTION,
    ENVIRONMENTS,
    UNKNOWN_ID,
    assert_invalid,
    assert_problem,
    create_browser,
    create_environment,
)
from tests.api.suites.helpers import SUITES, TESTS, create_suite

RUN_COLLECTION = "test_runs"
COUNTERS = ("queued", "running", "passed", "failed", "error", "skipped", "cancelled", "total")

# (route, collection, reference field, creator) for each kind of referenced resource.
KINDS = {
    "browser": (BROWSERS, BROWSER_COLLECTION, "browser_configuration_id", create_browser),
    "environment": (ENVIRONMENTS, ENVIRONMENT_COLLECTION, "environment_id", create_environment),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def _target(client: httpx.AsyncClient, kind: str) -> tuple[str, str, str]:
    """A new configuration or environment: (its URL, its id, the field that references it)."""
    route, _, field, create = KINDS[kind]
    created = await create(client, f"target {kind}")
    return f"{route}/{created['id']}", created["id"], field


async def _case(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(TESTS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _run(db: AsyncDatabase[Any], name: str, **fields: Any) -> ObjectId:
    """A run as the execution routes store it: the reference and a snapshot of what was used."""
    now = datetime.now(UTC)
    result = await db[RUN_COLLECTION].insert_one(
        {
            "name": name,
            "trigger": "manual",
            "status": "passed",
            "counters": dict.fromkeys(COUNTERS, 0),
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "environment": {"name": "snap", "base_url": "https://x.example.com/", "variables": []},
            **fields,
        }
    )
    run_id: ObjectId = result.inserted_id
    return run_id


class TestDeleteReferenced:
    async def test_an_unreferenced_one_is_deleted(
        self, client: httpx.AsyncClient, kind: str
    ) -> None:
        url, _, _ = await _target(client, kind)

        assert (await client.delete(url)).status_code == 204
        assert (await client.get(url)).status_code == 404

    async def test_a_referenced_one_is_409_listing_the_references_and_is_kept(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], kind: str
    ) -> None:
        url, id, field = await _target(client, kind)
        cases = [await _case(client, f"case {i}", **{field: id}) for i in range(7)]
        await _case(client, "unrelated")
        suite = await create_suite(client, "nightly", **{field: id})
        run_id = await _run(db, "run 1", **{field: ObjectId(id)})

        response = await client.delete(url)

        body = assert_problem(response, 409)
        by_kind = {item["kind"]: item for item in body["references"]}
        assert set(by_kind) == {"test_case", "test_suite", "test_run"}
        assert by_kind["test_case"]["count"] == 7
        assert len(by_kind["test_case"]["items"]) == 5
        assert {item["id"] for item in by_kind["test_case"]["items"]} <= {c["id"] for c in cases}
        assert by_kind["test_suite"] == {
            "kind": "test_suite",
            "count": 1,
            "items": [{"id": suite["id"], "name": "nightly"}],
        }
        assert by_kind["test_run"]["items"] == [{"id": str(run_id), "name": "run 1"}]
        assert "7 test cases" in body["detail"]
        assert "force=true" in body["detail"]
        assert (await client.get(url)).status_code == 200

    async def test_force_clears_every_reference_then_deletes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], kind: str
    ) -> None:
        url, id, field = await _target(client, kind)
        case = await _case(client, "case", **{field: id})
        suite = await create_suite(client, "nightly", **{field: id})
        run_id = await _run(db, "run 1", **{field: ObjectId(id)})

        response = await client.delete(url, params={"force": "true"})

        assert response.status_code == 204
        assert (await client.get(url)).status_code == 404
        stored_case = (await client.get(f"{TESTS}/{case['id']}")).json()
        assert stored_case[field] is None
        assert stored_case["version"] == case["version"] + 1
        stored_suite = (await client.get(f"{SUITES}/{suite['id']}")).json()
        assert stored_suite[field] is None
        assert stored_suite["version"] == suite["version"] + 1
        run = await db[RUN_COLLECTION].find_one({"_id": run_id})
        assert run is not None
        assert run[field] is None
        assert run["environment"]["name"] == "snap"  # the snapshot is history: it stays
        # An ordinary save of the case works afterwards (no dangling id to refuse).
        saved = await client.patch(f"{TESTS}/{case['id']}", json={"description": "still fine"})
        assert saved.status_code == 200, saved.text

    async def test_force_false_is_the_default(self, client: httpx.AsyncClient, kind: str) -> None:
        url, id, field = await _target(client, kind)
        await _case(client, "case", **{field: id})

        assert_problem(await client.delete(url, params={"force": "false"}), 409)

    async def test_an_unknown_query_parameter_is_422_and_nothing_is_deleted(
        self, client: httpx.AsyncClient, kind: str
    ) -> None:
        url, _, _ = await _target(client, kind)

        assert_invalid(await client.delete(url, params={"forse": "true"}), "query.forse")
        assert_invalid(await client.delete(url, params={"force": "maybe"}), "query.force")
        assert (await client.get(url)).status_code == 200

    async def test_an_unknown_id_is_404_even_with_force(
        self, client: httpx.AsyncClient, kind: str
    ) -> None:
        route = KINDS[kind][0]

        response = await client.delete(f"{route}/{UNKNOWN_ID}", params={"force": "true"})

        assert_problem(response, 404)


class TestReferenceFilters:
    @pytest.mark.parametrize("route", [TESTS, SUITES])
    async def test_tests_and_suites_filter_by_the_referenced_id(
        self, client: httpx.AsyncClient, kind: str, route: str
    ) -> None:
        _, id, field = await _target(client, kind)
        create = KINDS[kind][3]
        other = await create(client, "other")

        async def make(name: str, **fields: Any) -> dict[str, Any]:
            response = await client.post(route, json={"name": name, **fields})
            assert response.status_code == 201, response.text
            made: dict[str, Any] = response.json()
            return made

        await make("a", **{field: id})
        await make("b", **{field: other["id"]})
        await make("c")
        await make("d", **{field: id})

        response = await client.get(route, params={field: id, "sort_by": "name", "order": "asc"})

        assert response.status_code == 200, response.text
        assert [item["name"] for item in response.json()["items"]] == ["a", "d"]

    @pytest.mark.parametrize("route", [TESTS, SUITES])
    async def test_a_malformed_id_filter_is_422(
        self, client: httpx.AsyncClient, kind: str, route: str
    ) -> None:
        field = KINDS[kind][2]

        assert_invalid(await client.get(route, params={field: "nope"}), f"query.{field}")
