"""`/api/v1/configurations/environments`: CRUD, filters, unique names and secret variables."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import (
    ENVIRONMENT_COLLECTION,
    ENVIRONMENTS,
    UNKNOWN_ID,
    assert_invalid,
    assert_problem,
    create_environment,
    environment_body,
    names,
    parse_time,
    stored,
)

SECRET = "s3cr3t-t0ken-value"
VARIABLES = [
    {"name": "LOCALE", "value": "en-US", "secret": False},
    {"name": "API_TOKEN", "value": SECRET, "secret": True},
]
MASKED = [
    {"name": "LOCALE", "value": "en-US", "secret": False},
    {"name": "API_TOKEN", "value": None, "secret": True},
]


async def _stored_variables(db: AsyncDatabase[Any], id: str) -> list[dict[str, Any]]:
    document = await db[ENVIRONMENT_COLLECTION].find_one({"_id": ObjectId(id)})
    assert document is not None
    variables: list[dict[str, Any]] = document["variables"]
    return variables


class TestCreateEnvironment:
    async def test_answers_201_with_location_and_the_full_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            ENVIRONMENTS,
            json=environment_body("staging", description="Nightly deploy", variables=VARIABLES),
        )

        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"{ENVIRONMENTS}/{body['id']}"
        assert body == {
            "id": body["id"],
            "created_at": body["created_at"],
            "updated_at": body["created_at"],
            "name": "staging",
            "base_url": "https://staging.example.com/",
            "description": "Nightly deploy",
            "is_active": True,
            "variables": MASKED,
            "version": 1,
        }

    async def test_location_resolves_to_the_created_environment(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(ENVIRONMENTS, json=environment_body("staging"))

        fetched = await client.get(response.headers["location"])

        assert fetched.status_code == 200
        assert fetched.json() == response.json()

    async def test_defaults(self, client: httpx.AsyncClient) -> None:
        body = await create_environment(client, "staging")

        assert body["description"] is None
        assert body["is_active"] is True
        assert body["variables"] == []

    async def test_stores_the_environment(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = await create_environment(client, "staging", is_active=False, variables=VARIABLES)

        [document] = await stored(db, ENVIRONMENT_COLLECTION)
        assert document["_id"] == ObjectId(body["id"])
        assert document["name"] == "staging"
        assert document["is_active"] is False
        assert document["variables"] == VARIABLES

    async def test_invalid_body_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        url = "https://e.com/"
        table: list[tuple[dict[str, Any], str]] = [
            ({"base_url": url}, "body.name"),
            ({"name": "staging"}, "body.base_url"),
            ({"name": "staging", "base_url": "not a url"}, "body.base_url"),
            ({"name": "staging", "base_url": "ftp://example.com/"}, "body.base_url"),
            ({"name": "e", "base_url": url, "is_active": "sometimes"}, "body.is_active"),
            ({"name": "e", "base_url": url, "variables": {"A": "1"}}, "body.variables"),
            ({"name": "e", "base_url": url, "variables": [{"name": "1BAD"}]}, "body.variables.0"),
            ({"name": "e", "base_url": url, "variables": [{"name": "A-B", "value": "1"}]}, "body"),
            ({"name": "e", "base_url": url, "variables": [{"name": "A"}]}, "body"),
            ({"name": "e", "base_url": url, "variables": [{"name": "T", "secret": True}]}, "body"),
        ]
        for body, location in table:
            assert_invalid(await client.post(ENVIRONMENTS, json=body), location)

        assert await stored(db, ENVIRONMENT_COLLECTION) == []

    async def test_duplicate_variable_names_are_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        variables = [{"name": "TOKEN", "value": "a"}, {"name": "TOKEN", "value": "b"}]

        response = await client.post(
            ENVIRONMENTS, json=environment_body("staging", variables=variables)
        )

        body = assert_invalid(response, "body")
        assert "TOKEN" in body["detail"]
        assert await stored(db, ENVIRONMENT_COLLECTION) == []


class TestGetEnvironment:
    async def test_returns_the_environment(self, client: httpx.AsyncClient) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)

        response = await client.get(f"{ENVIRONMENTS}/{created['id']}")

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get(f"{ENVIRONMENTS}/{UNKNOWN_ID}"), 404)

        assert UNKNOWN_ID in body["detail"]

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(f"{ENVIRONMENTS}/zzzzzzzzzzzzzzzzzzzzzzzz"), "path.id")


class TestUpdateEnvironment:
    async def test_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(
            client, "staging", description="Nightly", variables=VARIABLES
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"is_active": False})

        assert response.status_code == 200
        body = response.json()
        assert {**body, "updated_at": None} == {
            **created,
            "is_active": False,
            "updated_at": None,
            "version": 2,
        }
        assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])
        assert body["created_at"] == created["created_at"]
        [document] = await stored(db, ENVIRONMENT_COLLECTION)
        assert document["is_active"] is False
        assert document["description"] == "Nightly"
        assert document["variables"] == VARIABLES

    async def test_base_url_and_name_can_change(self, client: httpx.AsyncClient) -> None:
        created = await create_environment(client, "staging")

        response = await client.patch(
            f"{ENVIRONMENTS}/{created['id']}",
            json={"name": "preprod", "base_url": "https://preprod.example.com/"},
        )

        assert response.json()["name"] == "preprod"
        assert response.json()["base_url"] == "https://preprod.example.com/"

    async def test_null_on_a_required_field_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)
        before = await stored(db, ENVIRONMENT_COLLECTION)

        for field in ("name", "base_url", "is_active", "variables"):
            response = await client.patch(
                f"{ENVIRONMENTS}/{created['id']}", json={"description": "x", field: None}
            )
            body = assert_invalid(response, "body")
            assert f"{field} cannot be null" in body["detail"]

        assert await stored(db, ENVIRONMENT_COLLECTION) == before

    async def test_null_description_clears_it(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", description="Nightly")

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"description": None})

        assert response.status_code == 200
        assert response.json()["description"] is None
        [document] = await stored(db, ENVIRONMENT_COLLECTION)
        assert document["description"] is None

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.patch(f"{ENVIRONMENTS}/{UNKNOWN_ID}", json={"is_active": False})

        assert_problem(response, 404)

    async def test_unknown_id_is_404_when_replacing_variables(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.patch(f"{ENVIRONMENTS}/{UNKNOWN_ID}", json={"variables": VARIABLES})

        assert_problem(response, 404)


class TestDeleteEnvironment:
    async def test_answers_204_then_the_environment_is_gone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        doomed = await create_environment(client, "staging")
        await create_environment(client, "production")

        response = await client.delete(f"{ENVIRONMENTS}/{doomed['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(f"{ENVIRONMENTS}/{doomed['id']}"), 404)
        assert [doc["name"] for doc in await stored(db, ENVIRONMENT_COLLECTION)] == ["production"]

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete(f"{ENVIRONMENTS}/{UNKNOWN_ID}"), 404)


class TestUniqueEnvironmentName:
    async def test_creating_a_taken_name_is_409_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_environment(client, "staging")
        before = await stored(db, ENVIRONMENT_COLLECTION)

        response = await client.post(
            ENVIRONMENTS, json=environment_body("staging", base_url="https://other.example.com/")
        )

        body = assert_problem(response, 409)
        assert "staging" in body["detail"]
        assert await stored(db, ENVIRONMENT_COLLECTION) == before

    async def test_renaming_to_a_taken_name_is_409_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_environment(client, "staging")
        production = await create_environment(client, "production")
        before = await stored(db, ENVIRONMENT_COLLECTION)

        response = await client.patch(
            f"{ENVIRONMENTS}/{production['id']}", json={"name": "staging", "is_active": False}
        )

        assert_problem(response, 409)
        assert await stored(db, ENVIRONMENT_COLLECTION) == before


class TestSecretVariables:
    async def test_stored_in_clear_but_never_returned(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await client.post(
            ENVIRONMENTS, json=environment_body("staging", variables=VARIABLES)
        )
        id = created.json()["id"]
        responses = [
            created,
            await client.get(f"{ENVIRONMENTS}/{id}"),
            await client.get(ENVIRONMENTS),
            await client.get(ENVIRONMENTS, params={"fields": "variables"}),
            await client.get(
                ENVIRONMENTS, params={"fields": "name,variables", "is_active": "true"}
            ),
            await client.patch(f"{ENVIRONMENTS}/{id}", json={"description": "changed"}),
        ]

        for response in responses:
            assert response.status_code in {200, 201}, response.text
            assert SECRET not in response.text
            body = response.json()
            [environment] = body.get("items", [body])
            assert environment["variables"] == MASKED
        assert await _stored_variables(db, id) == VARIABLES

    async def test_patch_response_masks_a_new_secret(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging")

        response = await client.patch(
            f"{ENVIRONMENTS}/{created['id']}", json={"variables": VARIABLES}
        )

        assert response.status_code == 200
        assert SECRET not in response.text
        assert response.json()["variables"] == MASKED
        assert await _stored_variables(db, created["id"]) == VARIABLES

    async def test_a_secret_sent_without_value_keeps_its_value(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)
        sent = [
            {"name": "API_TOKEN", "secret": True},
            {"name": "LOCALE", "value": "de-DE"},
            {"name": "TIMEOUT", "value": "30"},
        ]

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"variables": sent})

        assert response.status_code == 200
        assert response.json()["variables"] == [
            {"name": "API_TOKEN", "value": None, "secret": True},
            {"name": "LOCALE", "value": "de-DE", "secret": False},
            {"name": "TIMEOUT", "value": "30", "secret": False},
        ]
        assert await _stored_variables(db, created["id"]) == [
            {"name": "API_TOKEN", "value": SECRET, "secret": True},
            {"name": "LOCALE", "value": "de-DE", "secret": False},
            {"name": "TIMEOUT", "value": "30", "secret": False},
        ]

    async def test_a_secret_sent_with_a_value_replaces_it(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)
        sent = [{"name": "API_TOKEN", "value": "rotated", "secret": True}]

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"variables": sent})

        assert response.json()["variables"] == [
            {"name": "API_TOKEN", "value": None, "secret": True}
        ]
        assert await _stored_variables(db, created["id"]) == sent

    async def test_patching_other_fields_keeps_the_variables(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)

        await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"name": "renamed"})

        assert await _stored_variables(db, created["id"]) == VARIABLES

    async def test_a_variable_without_a_value_to_keep_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)
        before = await stored(db, ENVIRONMENT_COLLECTION)
        plain = {"name": "EXTRA", "value": "1"}
        refused: list[dict[str, Any]] = [
            {"name": "LOCALE"},  # a plain variable always needs its value
            {"name": "LOCALE", "secret": True},  # it was not a secret: no secret value to keep
            {"name": "NEW_TOKEN", "secret": True},  # a new secret has nothing to keep
            {"name": "API_TOKEN", "secret": False},  # unmasking would reveal the kept value
            {"name": "API_TOKEN"},  # the same: `secret` defaults to false
        ]

        for variable in refused:
            response = await client.patch(
                f"{ENVIRONMENTS}/{created['id']}",
                json={"is_active": False, "variables": [plain, variable]},
            )
            body = assert_invalid(response, "body.variables.1.value")
            assert SECRET not in response.text
            assert variable["name"] in body["detail"]

        assert await stored(db, ENVIRONMENT_COLLECTION) == before

    async def test_duplicate_variable_names_are_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)
        before = await stored(db, ENVIRONMENT_COLLECTION)
        sent = [{"name": "LOCALE", "value": "a"}, {"name": "LOCALE", "value": "b"}]

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"variables": sent})

        body = assert_invalid(response, "body")
        assert "LOCALE" in body["detail"]
        assert await stored(db, ENVIRONMENT_COLLECTION) == before

    async def test_an_empty_list_removes_every_variable(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(client, "staging", variables=VARIABLES)

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json={"variables": []})

        assert response.json()["variables"] == []
        assert await _stored_variables(db, created["id"]) == []


class TestEnvironmentFilters:
    async def test_is_active(
        self, client: httpx.AsyncClient, environments: dict[str, dict[str, Any]]
    ) -> None:
        table = {
            "is_active=true": ["production", "staging"],
            "is_active=false": ["legacy"],
            "": ["legacy", "production", "staging"],
        }
        for query, expected in table.items():
            response = await client.get(f"{ENVIRONMENTS}?{query}&sort_by=name&order=asc")
            assert response.status_code == 200, response.text
            assert names(response.json()) == expected, query
            assert response.json()["total"] == len(expected), query

    async def test_invalid_is_active_is_422(
        self, client: httpx.AsyncClient, environments: dict[str, dict[str, Any]]
    ) -> None:
        assert_invalid(await client.get(f"{ENVIRONMENTS}?is_active=perhaps"), "query.is_active")

    async def test_browser_filters_do_not_apply(
        self, client: httpx.AsyncClient, environments: dict[str, dict[str, Any]]
    ) -> None:
        body = assert_invalid(await client.get(f"{ENVIRONMENTS}?headless=true"), "query.headless")

        assert "headless" in body["detail"]


WIDE = "\U0001d11e"  # 4 bytes in UTF-8 and BSON: the most one character takes


def wide_variables(prefix: str, count: int, *, secret: bool = False) -> list[dict[str, Any]]:
    """Variables with the longest values (10,000 characters of 4 bytes: 40 kB each)."""
    return [
        {"name": f"{prefix}_{index}", "value": WIDE * 10_000, "secret": secret}
        for index in range(count)
    ]


class TestVariablesSize:
    """An environment's variables take at most 4 MiB as stored (500 of the longest: 20 MB)."""

    async def test_a_new_environment_with_more_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = environment_body("huge", variables=wide_variables("V", 105))  # 4.2 MB

        problem = assert_invalid(await client.post(ENVIRONMENTS, json=body), "body.variables")

        assert "at most 4,194,304 (4 MiB)" in problem["detail"]
        assert await stored(db, ENVIRONMENT_COLLECTION) == []

    async def test_kept_secrets_count_too(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_environment(
            client, "staging", variables=wide_variables("SECRET", 60, secret=True)
        )
        before = await stored(db, ENVIRONMENT_COLLECTION)
        kept = [{"name": f"SECRET_{index}", "secret": True} for index in range(60)]
        # 2.4 MB of kept secrets and 2 MB of new values: small to send, too large to store.
        sent = {"variables": kept + wide_variables("NEW", 50)}

        response = await client.patch(f"{ENVIRONMENTS}/{created['id']}", json=sent)

        assert "4 MiB" in assert_invalid(response, "body.variables")["detail"]
        assert await stored(db, ENVIRONMENT_COLLECTION) == before
