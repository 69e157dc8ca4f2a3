"""`POST /api/v1/templates/{id}/instantiate`: a test case from a template and parameter values."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, stored
from tests.api.templates.helpers import (
    CASE_COLLECTION,
    TESTS,
    create_template,
    instantiate_url,
    template_url,
)

PARAMETERS: list[dict[str, Any]] = [
    {"name": "url", "description": "The login page"},
    {"name": "username", "default": "alice"},
    {"name": "field", "default": "user"},
]
STEPS: list[dict[str, Any]] = [
    {"action": "navigate", "value": "{{url}}", "description": "Open {{ url }}"},
    {
        "action": "type",
        "selector": "#{{field}}-input",
        "value": "{{ username }}",
        "description": "Type {{username}} into {{field}}",
        "timeout_ms": 5000,
        "optional": True,
    },
    {
        "action": "assert_text",
        "selector": "h1",
        "expected": "Welcome, {{username}} ({{username}})",
        "screenshot_on_failure": False,
    },
    {"action": "click", "selector": "button[type=submit]"},
]


@pytest.fixture
async def template(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_template(
        client,
        "Login",
        description="A user signs in",
        category="auth",
        parameters=PARAMETERS,
        steps=STEPS,
    )


async def _instantiate(client: httpx.AsyncClient, template_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(instantiate_url(template_id), json={"name": "Case", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _step_texts(case: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (step["selector"], step["value"], step["description"], step["expected"])
        for step in case["steps"]
    ]


class TestInstantiate:
    async def test_answers_201_with_the_case_its_location_and_etag(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]),
            json={"name": "Login on staging", "parameters": {"url": "https://stg.example.com"}},
        )

        assert response.status_code == 201, response.text
        case = response.json()
        assert response.headers["location"] == f"{TESTS}/{case['id']}"
        assert response.headers["etag"] == '"1"'
        fetched = await client.get(response.headers["location"])
        assert fetched.status_code == 200
        assert fetched.json() == case
        assert case["name"] == "Login on staging"
        assert case["template_id"] == template["id"]
        assert case["version"] == 1
        assert case["status"] == "draft"
        assert case["description"] == "A user signs in"

    async def test_every_placeholder_is_replaced_in_every_templated_field(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(
            client,
            template["id"],
            parameters={"url": "https://stg.example.com/login", "username": "bob", "field": "u"},
        )

        assert _step_texts(case) == [
            (None, "https://stg.example.com/login", "Open https://stg.example.com/login", None),
            ("#u-input", "bob", "Type bob into u", None),
            ("h1", None, None, "Welcome, bob (bob)"),
            ("button[type=submit]", None, None, None),
        ]

    async def test_defaults_fill_the_parameters_not_given(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(client, template["id"], parameters={"url": "https://x.test"})

        assert case["steps"][1]["selector"] == "#user-input"
        assert case["steps"][1]["value"] == "alice"
        assert case["steps"][2]["expected"] == "Welcome, alice (alice)"

    async def test_a_value_given_overrides_the_default_even_when_empty(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(
            client, template["id"], parameters={"url": "https://x.test", "username": ""}
        )

        assert case["steps"][1]["value"] == ""
        assert case["steps"][2]["expected"] == "Welcome,  ()"

    async def test_the_other_step_fields_are_copied(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(client, template["id"], parameters={"url": "https://x.test"})

        assert [
            (s["action"], s["timeout_ms"], s["optional"], s["screenshot_on_failure"])
            for s in case["steps"]
        ] == [
            ("navigate", 30_000, False, True),
            ("type", 5000, True, True),
            ("assert_text", 30_000, False, False),
            ("click", 30_000, False, True),
        ]

    async def test_steps_get_fresh_ids_and_order_one_to_n(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        first = await _instantiate(client, template["id"], parameters={"url": "https://x.test"})
        second = await _instantiate(
            client, template["id"], name="Again", parameters={"url": "https://x.test"}
        )

        ids = [step["id"] for case in (first, second) for step in case["steps"]]
        assert all(ids)
        assert len(set(ids)) == 8
        assert [step["order"] for step in first["steps"]] == [1, 2, 3, 4]

    async def test_the_case_records_its_template(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], template: dict[str, Any]
    ) -> None:
        case = await _instantiate(client, template["id"], parameters={"url": "https://x.test"})

        [document] = await stored(db, CASE_COLLECTION)
        assert document["_id"] == ObjectId(case["id"])
        assert document["template_id"] == ObjectId(template["id"])
        assert [step["value"] for step in document["steps"]][:2] == ["https://x.test", "alice"]

    async def test_fields_of_the_case_may_be_given(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(
            client,
            template["id"],
            parameters={"url": "https://x.test"},
            description="Staging login",
            priority="critical",
            tags=["smoke", "login", "smoke"],
            owner="carol",
            automation_key="login.staging",
        )

        assert {
            key: case[key] for key in ("description", "priority", "tags", "owner", "automation_key")
        } == {
            "description": "Staging login",
            "priority": "critical",
            "tags": ["smoke", "login"],
            "owner": "carol",
            "automation_key": "login.staging",
        }

    async def test_a_template_without_parameters_needs_none(
        self, client: httpx.AsyncClient
    ) -> None:
        plain = await create_template(client, "Wait", steps=[{"action": "wait", "value": "{x}"}])

        case = await _instantiate(client, plain["id"])

        assert case["steps"][0]["value"] == "{x}"
        assert case["description"] is None

    async def test_a_changed_template_leaves_its_cases_alone(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(client, template["id"], parameters={"url": "https://x.test"})

        await client.patch(template_url(template["id"]), json={"steps": [{"action": "wait"}]})

        assert (await client.get(f"{TESTS}/{case['id']}")).json()["steps"] == case["steps"]


class TestValuesAreText:
    async def test_placeholders_inside_a_value_are_not_expanded(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        case = await _instantiate(
            client,
            template["id"],
            parameters={"url": "{{username}}", "username": "{{ url }}", "field": "{{field}}"},
        )

        assert case["steps"][0]["value"] == "{{username}}"
        assert case["steps"][1]["value"] == "{{ url }}"
        assert case["steps"][1]["selector"] == "#{{field}}-input"

    async def test_values_are_inserted_verbatim(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        value = r"C:\new\1 \g<0> $& ${x} %s <script>"

        case = await _instantiate(client, template["id"], parameters={"url": value})

        assert case["steps"][0]["value"] == value
        assert case["steps"][0]["description"] == f"Open {value}"

    @pytest.mark.parametrize("value", [{"$gt": ""}, ["a"], 1, None, True])
    async def test_a_value_that_is_not_a_string_is_422_and_no_case_is_made(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        template: dict[str, Any],
        value: Any,
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]), json={"name": "Case", "parameters": {"url": value}}
        )

        assert_invalid(response, "body.parameters.url")
        assert await stored(db, CASE_COLLECTION) == []


class TestInvalidInstantiation:
    async def test_missing_values_without_default_are_422_naming_each(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        template = await create_template(
            client,
            "Login",
            parameters=[{"name": "url"}, {"name": "user", "default": "a"}, {"name": "password"}],
            steps=[{"action": "type", "value": "{{url}} {{user}} {{password}}"}],
        )

        response = await client.post(
            instantiate_url(template["id"]), json={"name": "Case", "parameters": {"user": "b"}}
        )

        body = assert_invalid(response, "body.parameters.url", "body.parameters.password")
        assert [error["location"] for error in body["errors"]] == [
            "body.parameters.url",
            "body.parameters.password",
        ]
        assert "url" in body["detail"]
        assert "password" in body["detail"]
        assert await stored(db, CASE_COLLECTION) == []

    async def test_an_unknown_parameter_is_422_naming_it(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], template: dict[str, Any]
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]),
            json={"name": "Case", "parameters": {"url": "https://x.test", "pasword": "x"}},
        )

        body = assert_invalid(response, "body.parameters.pasword")
        assert [error["location"] for error in body["errors"]] == ["body.parameters.pasword"]
        assert "url, username, field" in body["detail"]
        assert await stored(db, CASE_COLLECTION) == []

    async def test_a_parameter_name_that_is_not_an_identifier_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], template: dict[str, Any]
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]),
            json={"name": "Case", "parameters": {"url": "https://x.test", "$where": "1"}},
        )

        assert_invalid(response, "body.parameters.$where")
        assert await stored(db, CASE_COLLECTION) == []

    async def test_a_value_making_a_step_too_long_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], template: dict[str, Any]
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]),
            json={"name": "Case", "parameters": {"url": "u", "field": "f" * 2000}},
        )

        body = assert_invalid(response, "body.parameters")
        assert "steps.1.selector" in body["detail"]
        assert await stored(db, CASE_COLLECTION) == []

    async def test_values_making_the_steps_too_large_together_are_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        # A small template and a small request, but 110 steps of 40 kB each once filled in.
        steps = [{"action": "type", "value": "{{text}}"}] * 110
        small = await create_template(client, "Repeat", parameters=[{"name": "text"}], steps=steps)

        response = await client.post(
            instantiate_url(small["id"]),
            json={"name": "Case", "parameters": {"text": "\U0001d11e" * 10_000}},
        )

        body = assert_invalid(response, "body.parameters")
        assert "at most 4,194,304 (4 MiB)" in body["detail"]
        assert await stored(db, CASE_COLLECTION) == []

    @pytest.mark.parametrize(
        ("body", "location"),
        [
            ({"parameters": {"url": "u"}}, "body.name"),
            ({"name": "", "parameters": {"url": "u"}}, "body.name"),
            ({"name": "C", "parameters": {"url": "u" * 10_001}}, "body.parameters.url"),
            ({"name": "C", "parameters": {"url": "u"}, "priority": "urgent"}, "body.priority"),
            ({"name": "C", "parameters": {"url": "u"}, "status": "active"}, "body.status"),
            ({"name": "C", "parameters": "url=u"}, "body.parameters"),
        ],
    )
    async def test_an_invalid_body_is_422(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        template: dict[str, Any],
        body: dict[str, Any],
        location: str,
    ) -> None:
        assert_invalid(await client.post(instantiate_url(template["id"]), json=body), location)

        assert await stored(db, CASE_COLLECTION) == []

    async def test_a_taken_automation_key_is_409(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        body = {"parameters": {"url": "u"}, "automation_key": "login"}
        await _instantiate(client, template["id"], **body)

        response = await client.post(
            instantiate_url(template["id"]), json={"name": "Other", **body}
        )

        assert_problem(response, 409)

    async def test_unknown_template_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(instantiate_url(UNKNOWN_ID), json={"name": "Case"})

        body = assert_problem(response, 404)
        assert UNKNOWN_ID in body["detail"]
        assert await stored(db, CASE_COLLECTION) == []

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(instantiate_url("nope"), json={"name": "Case"})

        assert_invalid(response, "path.id")

    async def test_a_body_that_is_not_json_is_415(
        self, client: httpx.AsyncClient, template: dict[str, Any]
    ) -> None:
        response = await client.post(
            instantiate_url(template["id"]),
            content=b"<case/>",
            headers={"content-type": "application/xml"},
        )

        assert_problem(response, 415)
