"""Every error is an RFC 9457 problem, and no malformed or hostile input gets through."""

from __future__ import annotations

import json
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
    PROBLEM_JSON,
    UNKNOWN_ID,
    assert_invalid,
    assert_problem,
    browser_body,
    create_browser,
    environment_body,
    stored,
)
from tests.api.test_defs.helpers import (
    BULK,
    CASE_COLLECTION,
    MIB,
    case_url,
    insert_oversized_case,
)
from tests.conftest import REAL_MONGODB

OPERATOR = {"$gt": ""}


class TestProblemDetails:
    async def test_not_found_names_the_resource_and_the_path(
        self, client: httpx.AsyncClient
    ) -> None:
        path = f"{BROWSERS}/{UNKNOWN_ID}"

        body = assert_problem(await client.get(path), 404)

        assert body == {
            "type": "/problems/not-found",
            "title": "Not Found",
            "status": 404,
            "detail": f"browser configuration {UNKNOWN_ID} does not exist",
            "instance": path,
        }

    async def test_validation_problem_lists_every_invalid_input(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            BROWSERS, json={"browser": "safari", "viewport": {"width": -1, "height": 0}}
        )

        body = assert_invalid(
            response, "body.name", "body.browser", "body.viewport.width", "body.viewport.height"
        )
        assert body["title"] == "Unprocessable Content"
        assert body["instance"] == BROWSERS
        for error in body["errors"]:
            assert error["location"] in body["detail"]

    async def test_conflict(self, client: httpx.AsyncClient) -> None:
        await create_browser(client, "Chrome desktop")

        body = assert_problem(await client.post(BROWSERS, json=browser_body("Chrome desktop")), 409)

        assert body["type"] == "/problems/conflict"
        assert body["title"] == "Conflict"


class TestUnknownId:
    async def test_every_method_answers_404(self, client: httpx.AsyncClient) -> None:
        for collection in (BROWSERS, ENVIRONMENTS):
            path = f"{collection}/{UNKNOWN_ID}"
            for response in [
                await client.get(path),
                await client.patch(path, json={}),
                await client.delete(path),
            ]:
                assert assert_problem(response, 404)["instance"] == path

    async def test_uppercase_hex_is_a_valid_id(self, client: httpx.AsyncClient) -> None:
        created = await create_browser(client, "Chrome desktop")

        response = await client.get(f"{BROWSERS}/{created['id'].upper()}")

        assert response.status_code == 200
        assert response.json()["id"] == created["id"]


class TestMalformedId:
    IDS = ("not-an-id", "123", UNKNOWN_ID + "0", UNKNOWN_ID[:-1] + "g", "%24gt", "null")

    async def test_is_422_for_every_method(self, client: httpx.AsyncClient) -> None:
        for collection in (BROWSERS, ENVIRONMENTS):
            for id in self.IDS:
                path = f"{collection}/{id}"
                for response in [
                    await client.get(path),
                    await client.patch(path, json={}),
                    await client.delete(path),
                ]:
                    body = assert_invalid(response, "path.id")
                    assert "ObjectId" in body["detail"]


class TestUnknownRoute:
    async def test_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        for path in ("/api/v1/nothing-here", "/api/v2/configurations/browsers", "/", "/api/v1"):
            body = assert_problem(await client.get(path), 404)
            assert body["type"] == "/problems/not-found"
            assert path in body["detail"]

    async def test_a_path_below_an_item_is_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{BROWSERS}/{UNKNOWN_ID}/extra"), 404)


class TestMethodNotAllowed:
    async def test_is_a_405_problem_listing_every_allowed_method(
        self, client: httpx.AsyncClient
    ) -> None:
        table = [
            ("PUT", BROWSERS, {"GET", "POST"}),
            ("DELETE", ENVIRONMENTS, {"GET", "POST"}),
            ("POST", f"{BROWSERS}/{UNKNOWN_ID}", {"GET", "PATCH", "DELETE"}),
            ("PUT", f"{ENVIRONMENTS}/{UNKNOWN_ID}", {"GET", "PATCH", "DELETE"}),
            ("POST", "/health/live", {"GET"}),
            # Fixed segments beside an id are not ids: only their own methods are allowed.
            ("PATCH", "/api/v1/tests/bulk", {"POST"}),
            ("GET", "/api/v1/tests/bulk", {"POST"}),
            ("PATCH", f"/api/v1/tests/{UNKNOWN_ID}/steps/order", {"PUT"}),
            ("OPTIONS", f"/api/v1/tests/{UNKNOWN_ID}/steps/order", {"PUT"}),
        ]
        for method, path, allowed in table:
            response = await client.request(method, path, json={})
            body = assert_problem(response, 405)
            assert body["type"] == "/problems/method-not-allowed"
            assert {part.strip() for part in response.headers["allow"].split(",")} == allowed


class TestUnsupportedMediaType:
    async def test_create_with_a_non_json_body_is_415_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        json_text = b'{"name": "Chrome", "browser": "chrome"}'
        table: list[tuple[bytes, dict[str, str]]] = [
            (json_text, {"content-type": "text/plain"}),
            (b"name=Chrome&browser=chrome", {"content-type": "application/x-www-form-urlencoded"}),
            (b"<browser><name>Chrome</name></browser>", {"content-type": "application/xml"}),
            (json_text, {}),
        ]
        for content, headers in table:
            response = await client.post(BROWSERS, content=content, headers=headers)
            body = assert_problem(response, 415)
            assert body["type"] == "/problems/unsupported-media-type"

        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_patch_with_a_non_json_body_is_415_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(
            f"{BROWSERS}/{created['id']}",
            content=b'{"headless": false}',
            headers={"content-type": "text/plain"},
        )

        assert_problem(response, 415)
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_json_media_types_are_accepted(self, client: httpx.AsyncClient) -> None:
        content_types = ("application/json; charset=utf-8", "application/merge-patch+json")
        for number, content_type in enumerate(content_types):
            body = environment_body(f"env-{number}")
            response = await client.post(
                ENVIRONMENTS, content=json.dumps(body), headers={"content-type": content_type}
            )
            assert response.status_code == 201, (content_type, response.text)


class TestMalformedJson:
    async def test_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for content in (b'{"name": "Chrome", "browser": ', b"{'name': 'Chrome'}", b"not json"):
            response = await client.post(
                BROWSERS, content=content, headers={"content-type": "application/json"}
            )
            assert_invalid(response, "body")

        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_a_body_that_is_not_utf_8_is_422_not_400(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for content in (b"\xff\xfe", b'{"name": "\xe9t\xe9", "browser": "chrome"}'):
            response = await client.post(
                BROWSERS, content=content, headers={"content-type": "application/json"}
            )
            assert_invalid(response, "body")

        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_a_body_that_is_not_an_object_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for content in (b'["Chrome", "chrome"]', b'"Chrome"', b"42", b"null"):
            response = await client.post(
                BROWSERS, content=content, headers={"content-type": "application/json"}
            )
            assert_invalid(response, "body")

        assert await stored(db, BROWSER_COLLECTION) == []


class TestOperatorInBody:
    async def test_creating_a_browser_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({"name": OPERATOR, "browser": "chrome"}, "body.name"),
            (browser_body("Chrome", browser=OPERATOR), "body.browser"),
            (browser_body("Chrome", viewport={"width": OPERATOR, "height": 720}), "body.viewport"),
            (browser_body("Chrome", is_default={"$ne": False}), "body.is_default"),
            (browser_body("Chrome", args=[OPERATOR]), "body.args.0"),
            (browser_body("Chrome", version={"$where": "1"}), "body.version"),
        ]
        for body, location in table:
            assert_invalid(await client.post(BROWSERS, json=body), location)

        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_creating_an_environment_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[list[dict[str, Any]], str]] = [
            ([{"name": "TOKEN", "value": OPERATOR}], "body.variables.0.value"),
            ([{"name": OPERATOR, "value": "x"}], "body.variables.0.name"),
            ([{"name": "TOKEN", "value": "x", "secret": {"$ne": True}}], "body.variables.0"),
        ]
        for variables, location in table:
            body = environment_body("staging", variables=variables)
            assert_invalid(await client.post(ENVIRONMENTS, json=body), location)
        response = await client.post(
            ENVIRONMENTS, json=environment_body("staging", base_url={"$regex": ".*"})
        )
        assert_invalid(response, "body.base_url")

        assert await stored(db, ENVIRONMENT_COLLECTION) == []

    async def test_updating_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop", version="126")
        before = await stored(db, BROWSER_COLLECTION)
        bodies: list[dict[str, Any]] = [
            {"name": OPERATOR},
            {"browser": {"$ne": "chrome"}},
            {"viewport": {"width": OPERATOR, "height": 1}},
            {"$set": {"is_default": True}},
            {"version": {"$unset": ""}},
        ]

        for body in bodies:
            response = await client.patch(f"{BROWSERS}/{created['id']}", json=body)
            assert_invalid(response, "body")

        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_an_operator_looking_string_is_stored_as_a_plain_string(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "$where", user_agent='{"$gt": ""}')

        [document] = await stored(db, BROWSER_COLLECTION)
        assert document["name"] == created["name"] == "$where"
        assert document["user_agent"] == '{"$gt": ""}'


class TestOperatorInQuery:
    QUERIES = (
        "name[$gt]=",
        "browser[$ne]=chrome",
        "browser[$in][]=chrome",
        "is_default[$exists]=true",
        'headless={"$ne":null}',
        'is_default={"$ne":false}',
        'browser={"$ne":"chrome"}',
        "browser=$ne",
        "locale[$regex]=.*",
        'locale={"$ne":null}',
        "$where=1",
        "filter=%7B%7D",
        'sort_by={"$natural":1}',
        "order=-1",
        "page[$gt]=0",
        "limit=1e9",
    )

    async def test_is_422_never_a_wider_result(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", browser="chrome", is_default=True)

        for query in self.QUERIES:
            response = await client.get(f"{BROWSERS}?{query}")
            assert response.status_code == 422, (query, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON, query
            assert "items" not in response.json(), query

    async def test_an_unknown_parameter_is_named(self, client: httpx.AsyncClient) -> None:
        body = assert_invalid(await client.get(f"{BROWSERS}?name[$gt]="), "query.name[$gt]")

        assert "name[$gt]" in body["detail"]

    async def test_on_environments_too(self, client: httpx.AsyncClient) -> None:
        for query in ("name[$ne]=x", 'is_active={"$ne":null}', "variables.secret=true"):
            response = await client.get(f"{ENVIRONMENTS}?{query}")
            assert_invalid(response, "query")


class TestUnknownBodyField:
    async def test_create_is_422_naming_the_field(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(BROWSERS, json=browser_body("Chrome", headles=False))

        assert_invalid(response, "body.headles")
        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_update_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(
            f"{BROWSERS}/{created['id']}", json={"headless": False, "id": UNKNOWN_ID}
        )

        assert_invalid(response, "body.id")
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_environment_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            (
                environment_body("staging", variables=[{"name": "A", "value": "1", "hidden": 1}]),
                "body.variables.0.hidden",
            ),
            (environment_body("staging", created_at="2020-01-01T00:00:00Z"), "body.created_at"),
        ]
        for body, location in table:
            assert_invalid(await client.post(ENVIRONMENTS, json=body), location)

        assert await stored(db, ENVIRONMENT_COLLECTION) == []

    async def test_a_misspelt_viewport_field_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            BROWSERS, json=browser_body("Chrome", viewport={"widht": 800, "height": 600})
        )

        assert_invalid(response, "body.viewport.widht")
        assert await stored(db, BROWSER_COLLECTION) == []


class TestMalformedIfMatch:
    async def test_is_422_and_nothing_changes(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/api/v1/tests", json={"name": "Login"})
        url = f"/api/v1/tests/{created.json()['id']}"

        for value in ("null", "3", '"3', 'W/"3", 4'):
            response = await client.patch(url, json={"name": "Logout"}, headers={"If-Match": value})
            assert_invalid(response, "header.If-Match")

        assert (await client.get(url)).json()["version"] == 1

    async def test_entity_tag_lists_and_star_are_accepted(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/api/v1/tests", json={"name": "Login"})
        url = f"/api/v1/tests/{created.json()['id']}"

        for value in ('"7", "1"', "*", ' W/"0" , "2" '):
            response = await client.patch(url, json={"tags": ["a"]}, headers={"If-Match": value})
            assert response.status_code in {200, 412}, (value, response.text)


class TestJsonTypesAreNotCoerced:
    """A body is JSON: `1` is not `true`, `"5"` is not `5` (as the OpenAPI schema says)."""

    async def test_a_step_with_a_number_for_a_boolean_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for step in (
            {"action": "click", "optional": 1},
            {"action": "click", "screenshot_on_failure": "false"},
            {"action": "click", "timeout_ms": "5000"},
            {"action": "click", "timeout_ms": True},
            {"action": "click", "timeout_ms": 5000.5},
        ):
            response = await client.post("/api/v1/tests", json={"name": "Login", "steps": [step]})
            assert_invalid(response, "body.steps.0")

        assert await stored(db, "test_cases") == []

    async def test_a_whole_float_is_an_integer(self, client: httpx.AsyncClient) -> None:
        step = {"action": "wait", "timeout_ms": 5e3}
        response = await client.post("/api/v1/tests", json={"name": "Login", "steps": [step]})

        assert response.status_code == 201, response.text
        assert response.json()["steps"][0]["timeout_ms"] == 5000

    async def test_configurations_take_json_types(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        for body, location in (
            ({"headless": "false"}, "body.headless"),
            ({"is_default": 1}, "body.is_default"),
            ({"device_scale_factor": "1.5"}, "body.device_scale_factor"),
            ({"viewport": {"width": "800", "height": 600}}, "body.viewport.width"),
        ):
            response = await client.post(BROWSERS, json=browser_body("Chrome", **body))
            assert_invalid(response, location)
        secret = {"variables": [{"name": "TOKEN", "value": "x", "secret": "yes"}]}
        response = await client.post(ENVIRONMENTS, json=environment_body("qa", **secret))
        assert_invalid(response, "body.variables.0.secret")

        assert await stored(db, BROWSER_COLLECTION) == []
        assert await stored(db, ENVIRONMENT_COLLECTION) == []


class TestDocumentsTooLargeForMongoDB:
    """Data past the API's bounds (written by another client, or before the bounds existed): a
    write that would take a document past MongoDB's 16 MiB is a 413 problem, never a 500."""

    @pytest.mark.real_mongodb
    async def test_an_update_mongodb_refuses_for_its_size_is_413(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case_id = await insert_oversized_case(db, value="x" * (16 * MIB - 20_000))
        before = await stored(db, CASE_COLLECTION)
        grow = {"description": "\U0001d11e" * 10_000}  # 40 kB more

        response = await client.patch(case_url(case_id), json=grow)
        bulk = await client.post(
            BULK, json={"operations": [{"op": "update", "id": case_id, "data": grow}]}
        )

        assert assert_problem(response, 413)["type"] == "/problems/document-too-large"
        assert bulk.status_code == 200, bulk.text
        assert bulk.json()["results"][0]["error"]["status"] == 413
        assert await stored(db, CASE_COLLECTION) == before

    @pytest.mark.skipif(REAL_MONGODB, reason="MongoDB never holds a document over 16 MiB")
    async def test_a_document_the_driver_cannot_send_is_413(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        # The embedded engine does not check the size of an update's result: grow one past it.
        case_id = await insert_oversized_case(db, value="x" * (16 * MIB - 20_000))
        await db[CASE_COLLECTION].update_one(
            {"_id": ObjectId(case_id)}, {"$set": {"description": "x" * 100_000}}
        )

        response = await client.post(f"{case_url(case_id)}/clone", json={})

        assert assert_problem(response, 413)["type"] == "/problems/document-too-large"
        assert await db[CASE_COLLECTION].count_documents({}) == 1
