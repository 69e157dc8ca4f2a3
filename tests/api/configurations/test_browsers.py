"""`/api/v1/configurations/browsers`: CRUD, filters, unique names and the single default."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tests.api.helpers import (
    BROWSER_COLLECTION,
    BROWSERS,
    UNKNOWN_ID,
    assert_invalid,
    assert_problem,
    browser_body,
    create_browser,
    names,
    parse_time,
    stored,
)


async def _defaults(db: AsyncDatabase[Any]) -> list[str]:
    """Names of the configurations the database holds as default."""
    cursor = db[BROWSER_COLLECTION].find({"is_default": True}, {"name": 1})
    return [doc["name"] async for doc in cursor]


class TestCreateBrowser:
    async def test_answers_201_with_location_and_the_full_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(BROWSERS, json=browser_body("Chrome desktop"))

        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"{BROWSERS}/{body['id']}"
        assert body == {
            "id": body["id"],
            "created_at": body["created_at"],
            "updated_at": body["created_at"],
            "name": "Chrome desktop",
            "browser": "chrome",
            "version": None,
            "headless": True,
            "viewport": {"width": 1280, "height": 720},
            "device_scale_factor": 1.0,
            "user_agent": None,
            "locale": "en-US",
            "timezone": "UTC",
            "args": [],
            "is_default": False,
            "revision": 1,
        }
        assert parse_time(body["created_at"]).tzinfo is not None

    async def test_location_resolves_to_the_created_configuration(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(BROWSERS, json=browser_body("Chrome desktop"))

        fetched = await client.get(response.headers["location"])

        assert fetched.status_code == 200
        assert fetched.json() == response.json()

    async def test_stores_every_field_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        sent = {
            "name": "Firefox 4K",
            "browser": "firefox",
            "version": "127",
            "headless": False,
            "viewport": {"width": 3840, "height": 2160},
            "device_scale_factor": 2.0,
            "user_agent": "Mozilla/5.0 (test)",
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "args": ["--kiosk"],
            "is_default": True,
        }

        body = (await client.post(BROWSERS, json=sent)).json()

        assert {key: body[key] for key in sent} == sent
        [document] = await stored(db, BROWSER_COLLECTION)
        assert document["_id"] == ObjectId(body["id"])
        assert {key: document[key] for key in sent} == sent

    async def test_names_are_trimmed(self, client: httpx.AsyncClient) -> None:
        body = await create_browser(client, "  Chrome desktop \t")

        assert body["name"] == "Chrome desktop"

    async def test_invalid_body_is_422_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        table: list[tuple[dict[str, Any], str]] = [
            ({"browser": "chrome"}, "body.name"),
            ({"name": "Chrome"}, "body.browser"),
            ({"name": "", "browser": "chrome"}, "body.name"),
            ({"name": "x" * 201, "browser": "chrome"}, "body.name"),
            ({"name": "Safari", "browser": "safari"}, "body.browser"),
            ({"name": "Tiny", "browser": "chrome", "viewport": {"width": 0}}, "body.viewport"),
            ({"name": "Zoom", "browser": "chrome", "device_scale_factor": 0}, "body"),
            ({"name": "Locale", "browser": "chrome", "locale": "english!"}, "body.locale"),
            ({"name": "Default", "browser": "chrome", "is_default": "maybe"}, "body.is_default"),
            ({"name": "Args", "browser": "chrome", "args": "--kiosk"}, "body.args"),
        ]
        for body, location in table:
            assert_invalid(await client.post(BROWSERS, json=body), location)

        assert await stored(db, BROWSER_COLLECTION) == []


class TestGetBrowser:
    async def test_returns_the_configuration(self, client: httpx.AsyncClient) -> None:
        created = await create_browser(client, "Chrome desktop", args=["--disable-gpu"])

        response = await client.get(f"{BROWSERS}/{created['id']}")

        assert response.status_code == 200
        assert response.json() == created

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        await create_browser(client, "Chrome desktop")

        response = await client.get(f"{BROWSERS}/{UNKNOWN_ID}")

        body = assert_problem(response, 404)
        assert UNKNOWN_ID in body["detail"]

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{BROWSERS}/not-an-id")

        assert_invalid(response, "path.id")


class TestUpdateBrowser:
    async def test_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(
            client, "Chrome desktop", version="126", viewport={"width": 1440, "height": 900}
        )
        await asyncio.sleep(0.005)  # timestamps have millisecond precision

        response = await client.patch(
            f"{BROWSERS}/{created['id']}", json={"headless": False, "locale": "de-DE"}
        )

        assert response.status_code == 200
        body = response.json()
        expected = {**created, "headless": False, "locale": "de-DE", "revision": 2}
        assert {**body, "updated_at": None} == {**expected, "updated_at": None}
        assert body["created_at"] == created["created_at"]
        assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])
        assert (await client.get(f"{BROWSERS}/{created['id']}")).json() == body
        [document] = await stored(db, BROWSER_COLLECTION)
        assert document["headless"] is False
        assert document["version"] == "126"
        assert document["viewport"] == {"width": 1440, "height": 900}

    async def test_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(f"{BROWSERS}/{created['id']}", json={})

        assert response.status_code == 200
        assert response.json() == created
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_a_viewport_dimension_sent_alone_keeps_the_other(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(
            client, "Chrome desktop", viewport={"width": 1440, "height": 900}
        )

        response = await client.patch(
            f"{BROWSERS}/{created['id']}", json={"viewport": {"width": 800}}
        )

        assert response.status_code == 200
        assert response.json()["viewport"] == {"width": 800, "height": 900}
        [document] = await stored(db, BROWSER_COLLECTION)
        assert document["viewport"] == {"width": 800, "height": 900}

    @pytest.mark.parametrize(
        ("viewport", "location"),
        [
            ({"widht": 800}, "body.viewport.widht"),
            ({"width": None}, "body.viewport"),
            ({"height": 0}, "body.viewport.height"),
        ],
    )
    async def test_an_invalid_viewport_patch_is_422_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        viewport: dict[str, Any],
        location: str,
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(f"{BROWSERS}/{created['id']}", json={"viewport": viewport})

        assert_invalid(response, location)
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_null_on_a_required_field_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)
        required = ["name", "browser", "headless", "viewport", "device_scale_factor", "locale"]

        for field in [*required, "timezone", "args", "is_default"]:
            response = await client.patch(
                f"{BROWSERS}/{created['id']}", json={"version": "1", field: None}
            )
            body = assert_invalid(response, "body")
            assert f"{field} cannot be null" in body["detail"]

        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_null_on_a_nullable_field_clears_it(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(
            client, "Chrome desktop", version="126", user_agent="Mozilla/5.0 (test)"
        )

        response = await client.patch(f"{BROWSERS}/{created['id']}", json={"version": None})

        assert response.status_code == 200
        assert response.json()["version"] is None
        assert response.json()["user_agent"] == "Mozilla/5.0 (test)"
        [document] = await stored(db, BROWSER_COLLECTION)
        assert document["version"] is None
        assert document["user_agent"] == "Mozilla/5.0 (test)"

    async def test_invalid_value_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(
            f"{BROWSERS}/{created['id']}", json={"headless": False, "browser": "netscape"}
        )

        assert_invalid(response, "body.browser")
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_unknown_id_is_404(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.patch(f"{BROWSERS}/{UNKNOWN_ID}", json={"headless": False})

        assert_problem(response, 404)
        assert await stored(db, BROWSER_COLLECTION) == []

    async def test_unknown_id_is_404_when_promoting_to_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", is_default=True)

        response = await client.patch(f"{BROWSERS}/{UNKNOWN_ID}", json={"is_default": True})

        assert_problem(response, 404)
        assert await _defaults(db) == ["Chrome desktop"]


class TestDeleteBrowser:
    async def test_answers_204_then_the_configuration_is_gone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        doomed = await create_browser(client, "Chrome desktop")
        kept = await create_browser(client, "Firefox")

        response = await client.delete(f"{BROWSERS}/{doomed['id']}")

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await client.get(f"{BROWSERS}/{doomed['id']}"), 404)
        assert [doc["name"] for doc in await stored(db, BROWSER_COLLECTION)] == [kept["name"]]

    async def test_deleting_twice_is_404(self, client: httpx.AsyncClient) -> None:
        doomed = await create_browser(client, "Chrome desktop")
        await client.delete(f"{BROWSERS}/{doomed['id']}")

        response = await client.delete(f"{BROWSERS}/{doomed['id']}")

        assert_problem(response, 404)

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.delete(f"{BROWSERS}/123"), "path.id")


class TestUniqueBrowserName:
    async def test_creating_a_taken_name_is_409_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.post(BROWSERS, json=browser_body("Chrome desktop", browser="edge"))

        body = assert_problem(response, 409)
        assert "Chrome desktop" in body["detail"]
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_a_name_differing_only_by_surrounding_spaces_is_taken(
        self, client: httpx.AsyncClient
    ) -> None:
        await create_browser(client, "Chrome desktop")

        response = await client.post(BROWSERS, json=browser_body(" Chrome desktop "))

        assert_problem(response, 409)

    async def test_creating_a_taken_name_as_default_keeps_the_current_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", is_default=True)
        await create_browser(client, "Firefox", browser="firefox")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.post(BROWSERS, json=browser_body("Firefox", is_default=True))

        assert_problem(response, 409)
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_renaming_to_a_taken_name_is_409_and_nothing_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop")
        firefox = await create_browser(client, "Firefox", browser="firefox")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(
            f"{BROWSERS}/{firefox['id']}", json={"name": "Chrome desktop", "headless": False}
        )

        assert_problem(response, 409)
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_renaming_to_a_taken_name_while_promoting_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", is_default=True)
        firefox = await create_browser(client, "Firefox", browser="firefox")
        before = await stored(db, BROWSER_COLLECTION)

        response = await client.patch(
            f"{BROWSERS}/{firefox['id']}", json={"name": "Chrome desktop", "is_default": True}
        )

        assert_problem(response, 409)
        assert await stored(db, BROWSER_COLLECTION) == before

    async def test_keeping_its_own_name_is_not_a_conflict(self, client: httpx.AsyncClient) -> None:
        created = await create_browser(client, "Chrome desktop")

        response = await client.patch(
            f"{BROWSERS}/{created['id']}", json={"name": "Chrome desktop", "is_default": True}
        )

        assert response.status_code == 200
        assert response.json()["is_default"] is True

    async def test_a_freed_name_can_be_used_again(self, client: httpx.AsyncClient) -> None:
        created = await create_browser(client, "Chrome desktop")
        await client.delete(f"{BROWSERS}/{created['id']}")

        response = await client.post(BROWSERS, json=browser_body("Chrome desktop"))

        assert response.status_code == 201


class TestSingleDefaultBrowser:
    async def test_creating_a_default_demotes_the_previous_one(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await create_browser(client, "Chrome desktop", is_default=True)

        second = await create_browser(client, "Firefox", browser="firefox", is_default=True)

        assert second["is_default"] is True
        assert await _defaults(db) == ["Firefox"]
        demoted = (await client.get(f"{BROWSERS}/{first['id']}")).json()
        assert demoted["is_default"] is False
        assert parse_time(demoted["updated_at"]) >= parse_time(first["updated_at"])

    async def test_promoting_another_demotes_the_previous_one(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", is_default=True)
        firefox = await create_browser(client, "Firefox", browser="firefox")

        response = await client.patch(f"{BROWSERS}/{firefox['id']}", json={"is_default": True})

        assert response.status_code == 200
        assert response.json()["is_default"] is True
        assert await _defaults(db) == ["Firefox"]
        listed = (await client.get(BROWSERS, params={"is_default": "true"})).json()
        assert names(listed) == ["Firefox"]

    async def test_promoting_the_default_again_keeps_it(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        chrome = await create_browser(client, "Chrome desktop", is_default=True)

        response = await client.patch(f"{BROWSERS}/{chrome['id']}", json={"is_default": True})

        assert response.json()["is_default"] is True
        assert await _defaults(db) == ["Chrome desktop"]

    async def test_demoting_the_default_leaves_none(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        chrome = await create_browser(client, "Chrome desktop", is_default=True)
        await create_browser(client, "Firefox", browser="firefox")

        response = await client.patch(f"{BROWSERS}/{chrome['id']}", json={"is_default": False})

        assert response.json()["is_default"] is False
        assert await _defaults(db) == []

    async def test_creating_a_non_default_leaves_the_default_alone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop", is_default=True)

        await create_browser(client, "Firefox", browser="firefox", is_default=False)

        assert await _defaults(db) == ["Chrome desktop"]

    async def test_the_database_refuses_a_second_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        chrome = await create_browser(client, "Chrome desktop", is_default=True)
        [document] = await stored(db, BROWSER_COLLECTION)
        twin = {**document, "_id": ObjectId(), "name": "Second default"}

        with pytest.raises(DuplicateKeyError):
            await db[BROWSER_COLLECTION].insert_one(twin)

        assert await _defaults(db) == [chrome["name"]]

    async def test_the_database_accepts_many_non_defaults(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await create_browser(client, "Chrome desktop")
        [document] = await stored(db, BROWSER_COLLECTION)

        await db[BROWSER_COLLECTION].insert_one({**document, "_id": ObjectId(), "name": "Other"})

        assert len(await stored(db, BROWSER_COLLECTION)) == 2

    async def test_concurrent_promotions_all_land_and_leave_one_default(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        existing = await create_browser(client, "Existing", browser="firefox")
        bodies = [browser_body(f"Chrome {index}", is_default=True) for index in range(5)]

        responses = await asyncio.gather(
            *[client.post(BROWSERS, json=body) for body in bodies],
            client.patch(f"{BROWSERS}/{existing['id']}", json={"is_default": True}),
        )

        assert [response.status_code for response in responses] == [201] * 5 + [200]
        assert len(await stored(db, BROWSER_COLLECTION)) == 6
        assert len(await _defaults(db)) == 1


class TestBrowserFilters:
    """One data set, many queries: each table row is a query and the names it must select."""

    @staticmethod
    async def _check(client: httpx.AsyncClient, table: dict[str, list[str]]) -> None:
        for query, expected in table.items():
            response = await client.get(f"{BROWSERS}?{query}&sort_by=name&order=asc")
            assert response.status_code == 200, (query, response.text)
            page = response.json()
            assert names(page) == expected, query
            assert page["total"] == len(expected), query

    async def test_browser_matches_any_of_comma_separated_values(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "browser=chrome": ["Chrome desktop"],
                "browser=chrome,firefox": ["Chrome desktop", "Firefox headed"],
                "browser=chromium": [],
            },
        )

    async def test_an_empty_value_in_the_list_is_422(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        for query in ("browser=chrome,,firefox", "browser=chrome,", "browser="):
            assert_invalid(await client.get(f"{BROWSERS}?{query}"), "query.browser")

    async def test_browser_matches_any_of_repeated_parameters(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "browser=chrome&browser=webkit": ["Chrome desktop", "Webkit mobile"],
                "browser=chrome,firefox&browser=edge": [
                    "Chrome desktop",
                    "Edge headed",
                    "Firefox headed",
                ],
            },
        )

    async def test_headless(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "headless=false": ["Edge headed", "Firefox headed"],
                "headless=true": ["Chrome desktop", "Webkit mobile"],
            },
        )

    async def test_is_default(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "is_default=true": ["Chrome desktop"],
                "is_default=false": ["Edge headed", "Firefox headed", "Webkit mobile"],
            },
        )

    async def test_locale_matches_any_of(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "locale=en-US": ["Chrome desktop", "Edge headed"],
                "locale=de-DE,fr-FR": ["Firefox headed", "Webkit mobile"],
                "locale=ja-JP": [],
            },
        )

    async def test_filters_combine_with_and(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        await self._check(
            client,
            {
                "browser=chrome,edge&headless=false": ["Edge headed"],
                "browser=firefox&is_default=true": [],
                "locale=en-US&headless=true&is_default=true": ["Chrome desktop"],
            },
        )

    async def test_invalid_filter_values_are_422(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        table = {
            "browser=safari": "query.browser",
            "browser=chrome,safari": "query.browser",
            "headless=sometimes": "query.headless",
            "is_default=2": "query.is_default",
            "locale=not a locale": "query.locale",
        }
        for query, location in table.items():
            assert_invalid(await client.get(f"{BROWSERS}?{query}"), location)
