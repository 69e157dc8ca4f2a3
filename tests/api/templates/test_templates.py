"""`/api/v1/templates`: CRUD, unique names, placeholder checks and the list conventions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, names, parse_time, stored
from tests.api.templates.helpers import (
    CASE_COLLECTION,
    TEMPLATE_COLLECTION,
    TEMPLATES,
    create_template,
    instantiate_url,
    template_url,
)

LOGIN_PARAMETERS: list[dict[str, Any]] = [
    {"name": "url", "description": "The login page"},
    {"name": "username", "default": "alice"},
]
LOGIN_STEPS: list[dict[str, Any]] = [
    {"action": "navigate", "value": "{{url}}"},
    {"action": "type", "selector": "#username", "value": "{{ username }}"},
    {"action": "click", "selector": "button[type=submit]", "timeout_ms": 5000},
]


def _step(order: int, action: str, **fields: Any) -> dict[str, Any]:
    """A template step as the API returns it."""
    return {
        "order": order,
        "action": action,
        "selector": None,
        "value": None,
        "description": None,
        "expected": None,
        "timeout_ms": 30_000,
        "optional": False,
        "screenshot_on_failure": True,
        **fields,
    }


class TestCreateTemplate:
    async def test_answers_201_with_location_and_the_full_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            TEMPLATES,
            json={
                "name": "Login",
                "description": "Sign in",
                "category": "authentication",
                "parameters": LOGIN_PARAMETERS,
                "steps": LOGIN_STEPS,
            },
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == template_url(body["id"])
        assert body == {
            "id": body["id"],
            "created_at": body["created_at"],
            "updated_at": body["created_at"],
            "name": "Login",
            "description": "Sign in",
            "category": "authentication",
            "parameters": [
                {"name": "url", "description": "The login page", "default": None},
                {"name": "username", "description": None, "default": "alice"},
            ],
            "steps": [
                _step(1, "navigate", value="{{url}}"),
                _step(2, "type", selector="#username", value="{{ username }}"),
                _step(3, "click", selector="button[type=submit]", timeout_ms=5000),
            ],
            "version": 1,
        }

    async def test_location_resolves_to_the_created_template(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(TEMPLATES, json={"name": "Empty"})

        fetched = await client.get(response.headers["location"])

        assert fetched.status_code == 200
        assert fetched.json() == response.json()
        assert fetched.json()["parameters"] == []
        assert fetched.json()["steps"] == []

    async def test_stores_the_template_as_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )

        [document] = await stored(db, TEMPLATE_COLLECTION)
        assert document["_id"] == ObjectId(body["id"])
        assert document["category"] is None
        assert [p["name"] for p in document["parameters"]] == ["url", "username"]
        assert [step["order"] for step in document["steps"]] == [1, 2, 3]
        assert document["steps"][1]["value"] == "{{ username }}"

    async def test_placeholders_may_appear_in_every_templated_field(
        self, client: httpx.AsyncClient
    ) -> None:
        step = {
            "action": "assert_text",
            "selector": "#{{id}}",
            "value": "{{ id }}-{{\tid\t}}",
            "description": "Check {{id}}",
            "expected": "{{id}}",
        }

        body = await create_template(
            client, "Everywhere", parameters=[{"name": "id"}], steps=[step]
        )

        assert body["steps"][0]["selector"] == "#{{id}}"

    async def test_braces_that_are_not_placeholders_are_literal_text(
        self, client: httpx.AsyncClient
    ) -> None:
        step = {"action": "execute_script", "value": "render('{{ user.name }}', '{{1}}', '{ x }')"}

        body = await create_template(client, "Script", steps=[step])

        assert body["steps"][0]["value"] == step["value"]

    @pytest.mark.parametrize(
        ("fields", "location"),
        [
            ({}, "body.name"),
            ({"name": ""}, "body.name"),
            ({"name": "T", "category": ""}, "body.category"),
            ({"name": "T", "parameters": [{"name": "1st"}]}, "body.parameters.0.name"),
            ({"name": "T", "parameters": [{"name": "a-b"}]}, "body.parameters.0.name"),
            ({"name": "T", "parameters": [{"name": ""}]}, "body.parameters.0.name"),
            ({"name": "T", "parameters": [{"name": "url", "x": 1}]}, "body.parameters.0.x"),
            (
                {"name": "T", "parameters": [{"name": "url", "default": "x" * 10_001}]},
                "body.parameters.0.default",
            ),
            ({"name": "T", "steps": [{"action": "fly"}]}, "body.steps.0.action"),
            ({"name": "T", "steps": [{"action": "click", "id": "abc"}]}, "body.steps.0.id"),
            ({"name": "T", "steps": [{"action": "wait", "timeout_ms": -1}]}, "body.steps.0"),
            ({"name": "T", "unknown": True}, "body.unknown"),
        ],
    )
    async def test_invalid_body_is_422_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        fields: dict[str, Any],
        location: str,
    ) -> None:
        assert_invalid(await client.post(TEMPLATES, json=fields), location)

        assert await stored(db, TEMPLATE_COLLECTION) == []

    async def test_repeated_parameter_names_are_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        parameters = [{"name": "url"}, {"name": "user"}, {"name": "url", "default": "x"}]

        response = await client.post(TEMPLATES, json={"name": "T", "parameters": parameters})

        body = assert_invalid(response, "body.parameters")
        assert "repeated: url" in body["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == []

    async def test_steps_over_4_mib_as_stored_are_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        wide = "\U0001d11e"  # 4 bytes: 66 steps of the longest text take 4.23 MB
        step = {
            "action": "type",
            "selector": wide * 2000,
            "value": wide * 10_000,
            "description": wide * 2000,
            "expected": wide * 2000,
        }

        response = await client.post(TEMPLATES, json={"name": "T", "steps": [step] * 66})

        assert "at most 4,194,304 (4 MiB)" in assert_invalid(response, "body.steps")["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == []

    async def test_an_unknown_placeholder_is_422_naming_it_and_where(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        steps = [
            {"action": "navigate", "value": "{{url}}"},
            {"action": "type", "selector": "#{{ field }}", "value": "{{user}} {{password}}"},
            {"action": "assert_text", "expected": "Hello {{user}}"},
        ]

        response = await client.post(
            TEMPLATES, json={"name": "T", "parameters": [{"name": "url"}], "steps": steps}
        )

        body = assert_invalid(
            response, "body.steps.1.selector", "body.steps.1.value", "body.steps.2.expected"
        )
        messages = {error["location"]: error["message"] for error in body["errors"]}
        assert set(messages) == {
            "body.steps.1.selector",
            "body.steps.1.value",
            "body.steps.2.expected",
        }
        assert "{{field}}" in messages["body.steps.1.selector"]
        assert "{{user}}, {{password}}" in messages["body.steps.1.value"]
        assert "{{url}}" not in body["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == []

    async def test_placeholder_names_are_case_sensitive(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            TEMPLATES,
            json={
                "name": "T",
                "parameters": [{"name": "url"}],
                "steps": [{"action": "navigate", "value": "{{URL}}"}],
            },
        )

        assert_invalid(response, "body.steps.0.value")


class TestGetTemplate:
    async def test_returns_the_template(self, client: httpx.AsyncClient) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )

        response = await client.get(template_url(created["id"]))

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get(template_url(UNKNOWN_ID)), 404)

        assert UNKNOWN_ID in body["detail"]

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(template_url("not-an-id")), "path.id")


class TestUpdateTemplate:
    async def test_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_template(
            client, "Login", category="auth", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await client.patch(
            template_url(created["id"]), json={"description": "Sign in", "category": "access"}
        )

        assert response.status_code == 200
        body = response.json()
        expected = {**created, "description": "Sign in", "category": "access", "version": 2}
        assert {**body, "updated_at": None} == {**expected, "updated_at": None}
        assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])
        assert (await client.get(template_url(created["id"]))).json() == body
        [document] = await stored(db, TEMPLATE_COLLECTION)
        assert document["category"] == "access"

    async def test_steps_replace_the_whole_list_and_are_renumbered(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )
        steps = [{"action": "wait"}, {"action": "navigate", "value": "{{url}}/home"}]

        response = await client.patch(template_url(created["id"]), json={"steps": steps})

        assert response.status_code == 200
        assert response.json()["steps"] == [
            _step(1, "wait"),
            _step(2, "navigate", value="{{url}}/home"),
        ]
        assert response.json()["parameters"] == created["parameters"]

    async def test_parameters_replace_the_whole_list(self, client: httpx.AsyncClient) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )
        parameters = [
            {"name": "username", "default": "bob"},
            {"name": "url", "default": "https://example.com/"},
        ]

        response = await client.patch(template_url(created["id"]), json={"parameters": parameters})

        assert response.status_code == 200
        assert response.json()["parameters"] == [
            {"name": "username", "description": None, "default": "bob"},
            {"name": "url", "description": None, "default": "https://example.com/"},
        ]
        assert response.json()["steps"] == created["steps"]

    async def test_parameters_sent_with_only_a_name_are_stored_complete_and_list(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_template(client, "Login", parameters=LOGIN_PARAMETERS)

        response = await client.patch(
            template_url(created["id"]), json={"parameters": [{"name": "url"}]}
        )

        assert response.status_code == 200, response.text
        [document] = await stored(db, TEMPLATE_COLLECTION)
        assert document["parameters"] == [{"name": "url", "description": None, "default": None}]
        listed = await client.get(TEMPLATES)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"][0]["parameters"] == document["parameters"]

    async def test_steps_using_an_undeclared_placeholder_are_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )
        before = await stored(db, TEMPLATE_COLLECTION)
        steps = [{"action": "navigate", "value": "{{url}}"}, {"action": "type", "value": "{{pw}}"}]

        response = await client.patch(template_url(created["id"]), json={"steps": steps})

        body = assert_invalid(response, "body.steps.1.value")
        assert "{{pw}}" in body["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == before

    async def test_dropping_a_parameter_the_steps_use_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )
        before = await stored(db, TEMPLATE_COLLECTION)

        response = await client.patch(
            template_url(created["id"]), json={"parameters": [{"name": "url"}]}
        )

        body = assert_invalid(response, "body.parameters")
        assert "steps.1.value" in body["detail"]
        assert "{{username}}" in body["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == before

    async def test_parameters_and_steps_sent_together_are_checked_together(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create_template(
            client, "Login", parameters=LOGIN_PARAMETERS, steps=LOGIN_STEPS
        )

        response = await client.patch(
            template_url(created["id"]),
            json={
                "parameters": [{"name": "page"}],
                "steps": [{"action": "navigate", "value": "{{page}}"}],
            },
        )

        assert response.status_code == 200, response.text
        assert [p["name"] for p in response.json()["parameters"]] == ["page"]

    async def test_repeated_parameter_names_are_422(self, client: httpx.AsyncClient) -> None:
        created = await create_template(client, "Login")

        response = await client.patch(
            template_url(created["id"]), json={"parameters": [{"name": "a"}, {"name": "a"}]}
        )

        assert_invalid(response, "body.parameters")

    async def test_null_clears_description_and_category(self, client: httpx.AsyncClient) -> None:
        created = await create_template(client, "Login", description="Sign in", category="auth")

        response = await client.patch(
            template_url(created["id"]), json={"description": None, "category": None}
        )

        assert response.status_code == 200
        assert response.json()["description"] is None
        assert response.json()["category"] is None

    @pytest.mark.parametrize("field", ["name", "parameters", "steps"])
    async def test_null_on_a_required_field_is_422(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        created = await create_template(client, "Login")

        response = await client.patch(template_url(created["id"]), json={field: None})

        body = assert_invalid(response, "body")
        assert f"{field} cannot be null" in body["detail"]

    async def test_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_template(client, "Login", steps=[{"action": "wait"}])
        before = await stored(db, TEMPLATE_COLLECTION)

        response = await client.patch(template_url(created["id"]), json={})

        assert response.status_code == 200
        assert response.json() == created
        assert await stored(db, TEMPLATE_COLLECTION) == before

    @pytest.mark.parametrize(
        "patch", [{"description": "x"}, {"steps": []}, {"parameters": [{"name": "a"}]}]
    )
    async def test_unknown_id_is_404(
        self, client: httpx.AsyncClient, patch: dict[str, Any]
    ) -> None:
        assert_problem(await client.patch(template_url(UNKNOWN_ID), json=patch), 404)

    async def test_a_body_that_is_not_json_is_415(self, client: httpx.AsyncClient) -> None:
        created = await create_template(client, "Login")

        response = await client.patch(
            template_url(created["id"]),
            content=b"name=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        assert_problem(response, 415)


class TestDeleteTemplate:
    async def test_answers_204_then_the_template_is_gone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        doomed = await create_template(client, "Login")
        kept = await create_template(client, "Checkout")

        response = await client.delete(template_url(doomed["id"]))

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(template_url(doomed["id"])), 404)
        assert [doc["name"] for doc in await stored(db, TEMPLATE_COLLECTION)] == [kept["name"]]

    async def test_cases_made_from_it_are_kept(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        template = await create_template(client, "Login", steps=[{"action": "wait"}])
        made = await client.post(instantiate_url(template["id"]), json={"name": "Case"})

        await client.delete(template_url(template["id"]))

        [case] = await stored(db, CASE_COLLECTION)
        assert str(case["_id"]) == made.json()["id"]
        assert case["template_id"] == ObjectId(template["id"])

    async def test_deleting_twice_is_404(self, client: httpx.AsyncClient) -> None:
        doomed = await create_template(client, "Login")
        await client.delete(template_url(doomed["id"]))

        assert_problem(await client.delete(template_url(doomed["id"])), 404)

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.delete(template_url("123")), "path.id")


class TestUniqueTemplateName:
    async def test_creating_a_taken_name_is_409_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_template(client, "Login")
        before = await stored(db, TEMPLATE_COLLECTION)

        response = await client.post(TEMPLATES, json={"name": " Login ", "category": "auth"})

        body = assert_problem(response, 409)
        assert "Login" in body["detail"]
        assert await stored(db, TEMPLATE_COLLECTION) == before

    async def test_renaming_to_a_taken_name_is_409_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_template(client, "Login")
        checkout = await create_template(client, "Checkout")
        before = await stored(db, TEMPLATE_COLLECTION)

        response = await client.patch(
            template_url(checkout["id"]), json={"name": "Login", "steps": [{"action": "wait"}]}
        )

        assert_problem(response, 409)
        assert await stored(db, TEMPLATE_COLLECTION) == before

    async def test_keeping_its_own_name_is_not_a_conflict(self, client: httpx.AsyncClient) -> None:
        created = await create_template(client, "Login")

        response = await client.patch(
            template_url(created["id"]), json={"name": "Login", "category": "auth"}
        )

        assert response.status_code == 200


@pytest.fixture
async def templates(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Four templates (created in this order), by name; `Search` has no category."""
    specs: list[tuple[str, str | None]] = [
        ("Login", "auth"),
        ("Checkout", "shop"),
        ("Logout", "auth"),
        ("Search", None),
    ]
    created: dict[str, dict[str, Any]] = {}
    for name, category in specs:
        body = await create_template(
            client, name, category=category, parameters=[{"name": "url"}], steps=LOGIN_STEPS[:1]
        )
        created[name] = body
    return created


class TestListTemplates:
    async def test_lists_every_template_newest_first_by_default(
        self, client: httpx.AsyncClient, templates: dict[str, dict[str, Any]]
    ) -> None:
        page = (await client.get(TEMPLATES)).json()

        assert names(page) == ["Search", "Logout", "Checkout", "Login"]
        assert page["total"] == 4
        assert page["pages"] == 1
        assert page["items"][0] == templates["Search"]

    async def test_category_matches_any_of(
        self, client: httpx.AsyncClient, templates: dict[str, dict[str, Any]]
    ) -> None:
        table = {
            "category=auth": ["Login", "Logout"],
            "category=auth,shop": ["Checkout", "Login", "Logout"],
            "category=shop&category=auth": ["Checkout", "Login", "Logout"],
            "category=none": [],
        }
        for query, expected in table.items():
            response = await client.get(f"{TEMPLATES}?{query}&sort_by=name&order=asc")
            assert response.status_code == 200, response.text
            assert names(response.json()) == expected, query
            assert response.json()["total"] == len(expected), query

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("sort_by=name&order=asc", ["Checkout", "Login", "Logout", "Search"]),
            ("sort_by=name&order=desc", ["Search", "Logout", "Login", "Checkout"]),
            ("sort_by=created_at&order=asc", ["Login", "Checkout", "Logout", "Search"]),
        ],
    )
    async def test_sorts(
        self,
        client: httpx.AsyncClient,
        templates: dict[str, dict[str, Any]],
        query: str,
        expected: list[str],
    ) -> None:
        assert names((await client.get(f"{TEMPLATES}?{query}")).json()) == expected

    async def test_sorts_by_updated_at(
        self, client: httpx.AsyncClient, templates: dict[str, dict[str, Any]]
    ) -> None:
        await asyncio.sleep(0.005)
        await client.patch(template_url(templates["Login"]["id"]), json={"description": "x"})

        page = (await client.get(f"{TEMPLATES}?sort_by=updated_at&order=desc&limit=1")).json()

        assert names(page) == ["Login"]

    async def test_pages(
        self, client: httpx.AsyncClient, templates: dict[str, dict[str, Any]]
    ) -> None:
        page = (await client.get(f"{TEMPLATES}?sort_by=name&order=asc&limit=3&page=2")).json()

        assert names(page) == ["Search"]
        assert {key: page[key] for key in ("total", "page", "limit", "pages")} == {
            "total": 4,
            "page": 2,
            "limit": 3,
            "pages": 2,
        }

    async def test_fields_selects_what_each_item_holds(
        self, client: httpx.AsyncClient, templates: dict[str, dict[str, Any]]
    ) -> None:
        response = await client.get(f"{TEMPLATES}?fields=name,category&sort_by=name&order=asc")

        assert response.status_code == 200
        assert response.json()["items"][0] == {
            "id": templates["Checkout"]["id"],
            "name": "Checkout",
            "category": "shop",
        }

    @pytest.mark.parametrize(
        ("query", "location"),
        [
            ("sort_by=category", "query.sort_by"),
            ("order=up", "query.order"),
            ("fields=name,secret", "query.fields"),
            ("limit=201", "query.limit"),
            ("page=0", "query.page"),
            ("q=login", "query.q"),
            ("categroy=auth", "query.categroy"),
        ],
    )
    async def test_invalid_parameters_are_422(
        self, client: httpx.AsyncClient, query: str, location: str
    ) -> None:
        assert_invalid(await client.get(f"{TEMPLATES}?{query}"), location)
