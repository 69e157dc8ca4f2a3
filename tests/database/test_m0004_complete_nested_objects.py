"""Migration 0004 repairs list items that partial PATCHes stored without their optional keys."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from migrations import m0004_complete_nested_objects as m0004
from tests.api.helpers import stored

TEMPLATES = "/api/v1/templates"
TESTS = "/api/v1/tests"
STEP = {"action": "click", "selector": "#go", "value": "x", "description": "d", "expected": "e"}


async def damage(db: AsyncDatabase[Any], collection: str, *paths: str) -> None:
    """Remove keys from stored list items, as the old partial PATCH left them."""
    await db[collection].update_many({}, {"$unset": dict.fromkeys(paths, "")})


async def make_damaged_data(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> None:
    template = {
        "name": "Login",
        "parameters": [{"name": "url", "description": "page", "default": "https://a.example/"}],
        "steps": [STEP],
    }
    assert (await client.post(TEMPLATES, json=template)).status_code == 201
    assert (await client.post(TESTS, json={"name": "Case", "steps": [STEP]})).status_code == 201
    await damage(db, "test_templates", "parameters.0.description", "parameters.0.default")
    await damage(db, "test_templates", *(f"steps.0.{key}" for key in m0004._STEP_KEYS))
    await damage(db, "test_cases", *(f"steps.0.{key}" for key in m0004._STEP_KEYS))


class TestForward:
    async def test_fills_the_missing_keys_with_null_and_the_lists_read_again(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await make_damaged_data(client, db)
        assert (await client.get(TEMPLATES)).status_code != 200  # what the damage did
        [case_before] = await stored(db, "test_cases")

        await m0004.forward(db)

        [template] = await stored(db, "test_templates")
        [case] = await stored(db, "test_cases")
        assert template["parameters"] == [{"name": "url", "description": None, "default": None}]
        for step in (template["steps"][0], case["steps"][0]):
            assert {key: step[key] for key in m0004._STEP_KEYS} == dict.fromkeys(m0004._STEP_KEYS)
            assert step["action"] == "click"
        assert (case["version"], case["updated_at"]) == (
            case_before["version"],
            case_before["updated_at"],
        )
        for route in (TEMPLATES, TESTS, f"{TESTS}/{case['_id']}/steps"):
            assert (await client.get(route)).status_code == 200, route

    async def test_leaves_complete_documents_alone_and_is_safe_to_re_run(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await make_damaged_data(client, db)
        await m0004.forward(db)
        before = {name: await stored(db, name) for name in ("test_templates", "test_cases")}

        await m0004.forward(db)

        assert {name: await stored(db, name) for name in before} == before


class TestBackward:
    async def test_changes_nothing(self, client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> None:
        await make_damaged_data(client, db)
        await m0004.forward(db)
        before = await stored(db, "test_templates")

        await m0004.backward(db)

        assert await stored(db, "test_templates") == before


def test_is_discovered_under_its_version() -> None:
    assert (m0004.VERSION, m0004.NAME) in {(m.version, m.name) for m in migrations.discover()}
