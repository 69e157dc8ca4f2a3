"""The list conventions (api/query): pagination, sorting, field selection, strict parameters.

They are exercised through the browser and environment list endpoints; `run_bulk`, which no
route uses yet, is tested directly against a collection.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.errors import InvalidInput, ProblemError
from api.query import BulkOutcome, BulkStatus, run_bulk
from api.query.bulk import MAX_BULK_ITEMS
from api.query.pagination import MAX_PAGE
from api.query.text import TextIndex, fallback_score
from tests.api.helpers import (
    BROWSERS,
    ENVIRONMENTS,
    assert_invalid,
    create_browser,
    names,
)

CREATION_ORDER = ["Charlie", "Alpha", "Echo", "Bravo", "Delta"]
BROWSER_OF = {
    "Charlie": "chrome",
    "Alpha": "firefox",
    "Echo": "chrome",
    "Bravo": "chrome",
    "Delta": "firefox",
}


@pytest.fixture
async def five(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Five browser configurations, created in `CREATION_ORDER` (not alphabetical)."""
    return [await create_browser(client, name, browser=BROWSER_OF[name]) for name in CREATION_ORDER]


async def _list(client: httpx.AsyncClient, url: str, query: str) -> dict[str, Any]:
    response = await client.get(f"{url}?{query}")
    assert response.status_code == 200, (query, response.text)
    page: dict[str, Any] = response.json()
    return page


class TestPageEnvelope:
    async def test_defaults_to_page_1_of_50(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(client, BROWSERS, "")

        assert set(page) == {"items", "total", "page", "limit", "pages"}
        assert (page["total"], page["page"], page["limit"], page["pages"]) == (5, 1, 50, 1)
        assert len(page["items"]) == 5

    async def test_pages_split_the_sorted_list(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        query = "sort_by=name&order=asc&limit=2"
        expected = [["Alpha", "Bravo"], ["Charlie", "Delta"], ["Echo"]]

        for number, content in enumerate(expected, start=1):
            page = await _list(client, BROWSERS, f"{query}&page={number}")
            assert names(page) == content
            assert (page["total"], page["page"], page["limit"], page["pages"]) == (5, number, 2, 3)

    async def test_a_page_beyond_the_end_is_empty_with_the_right_total(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(client, BROWSERS, "limit=2&page=4")

        assert page == {"items": [], "total": 5, "page": 4, "limit": 2, "pages": 3}

    async def test_the_last_allowed_page_is_empty_not_an_error(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(client, BROWSERS, f"limit=200&page={MAX_PAGE}")

        assert page["items"] == []
        assert page["total"] == 5

    async def test_an_empty_collection(self, client: httpx.AsyncClient) -> None:
        page = await _list(client, ENVIRONMENTS, "")

        assert page == {"items": [], "total": 0, "page": 1, "limit": 50, "pages": 0}

    async def test_total_and_pages_count_filtered_items(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(client, BROWSERS, "browser=chrome&limit=2&sort_by=name&order=asc")

        assert names(page) == ["Bravo", "Charlie"]
        assert (page["total"], page["pages"]) == (3, 2)

    async def test_limit_200_is_allowed(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        assert (await _list(client, BROWSERS, "limit=200"))["limit"] == 200

    async def test_out_of_range_or_malformed_paging_is_422(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        table = {
            "limit=201": "query.limit",
            "limit=0": "query.limit",
            "limit=-5": "query.limit",
            "limit=ten": "query.limit",
            "page=0": "query.page",
            "page=-1": "query.page",
            "page=1.5": "query.page",
            "page=two": "query.page",
            f"page={MAX_PAGE + 1}": "query.page",
            "page=99999999999999999999": "query.page",
        }
        for query, location in table.items():
            assert_invalid(await client.get(f"{BROWSERS}?{query}"), location)


class TestSorting:
    async def test_by_name_ascending_and_descending(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        alphabetical = sorted(CREATION_ORDER)

        ascending = await _list(client, BROWSERS, "sort_by=name&order=asc")
        descending = await _list(client, BROWSERS, "sort_by=name&order=desc")

        assert names(ascending) == alphabetical
        assert names(descending) == alphabetical[::-1]

    async def test_default_is_newest_first(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        assert names(await _list(client, BROWSERS, "")) == CREATION_ORDER[::-1]
        assert names(await _list(client, BROWSERS, "order=asc")) == CREATION_ORDER

    async def test_ties_keep_a_stable_order(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        chrome = [name for name in CREATION_ORDER if BROWSER_OF[name] == "chrome"]
        firefox = [name for name in CREATION_ORDER if BROWSER_OF[name] == "firefox"]

        ascending = names(await _list(client, BROWSERS, "sort_by=browser&order=asc"))
        descending = names(await _list(client, BROWSERS, "sort_by=browser&order=desc"))

        assert ascending == chrome + firefox
        assert descending == ascending[::-1]

    async def test_paging_through_ties_sees_each_item_once(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        whole = names(await _list(client, BROWSERS, "sort_by=browser&order=asc"))

        paged: list[str] = []
        for number in range(1, 6):
            page = await _list(client, BROWSERS, f"sort_by=browser&order=asc&limit=1&page={number}")
            paged.extend(names(page))

        assert paged == whole

    async def test_by_updated_at(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        alpha = next(item for item in five if item["name"] == "Alpha")
        await client.patch(f"{BROWSERS}/{alpha['id']}", json={"headless": False})

        page = await _list(client, BROWSERS, "sort_by=updated_at&order=desc&limit=1")

        assert names(page) == ["Alpha"]

    async def test_environments_sort_by_name(self, client: httpx.AsyncClient) -> None:
        for name in ("beta", "alpha", "gamma"):
            await client.post(ENVIRONMENTS, json={"name": name, "base_url": "https://example.com/"})

        page = await _list(client, ENVIRONMENTS, "sort_by=name&order=asc")

        assert names(page) == ["alpha", "beta", "gamma"]

    async def test_a_field_outside_the_whitelist_is_422_listing_the_allowed_ones(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        for sort_by in ("colour", "version", "_id", "is_default", "name,browser", "$natural"):
            body = assert_invalid(
                await client.get(BROWSERS, params={"sort_by": sort_by}), "query.sort_by"
            )
            for allowed in ("name", "browser", "created_at", "updated_at"):
                assert f"'{allowed}'" in body["detail"], sort_by

    async def test_each_resource_has_its_own_whitelist(self, client: httpx.AsyncClient) -> None:
        body = assert_invalid(
            await client.get(ENVIRONMENTS, params={"sort_by": "browser"}), "query.sort_by"
        )

        assert "'name'" in body["detail"]
        assert "'browser'" not in body["detail"]

    async def test_unknown_order_is_422(self, client: httpx.AsyncClient) -> None:
        for order in ("up", "ASCENDING", "1", ""):
            body = assert_invalid(
                await client.get(BROWSERS, params={"order": order}), "query.order"
            )
            assert "'asc'" in body["detail"]
            assert "'desc'" in body["detail"]


class TestFieldSelection:
    async def test_returns_only_the_chosen_fields(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(client, BROWSERS, "fields=id,name&sort_by=name&order=asc")

        assert page["items"][0] == {"id": page["items"][0]["id"], "name": "Alpha"}
        assert all(set(item) == {"id", "name"} for item in page["items"])
        assert page["total"] == 5

    async def test_id_is_always_returned(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        ids = {item["id"] for item in five}

        page = await _list(client, BROWSERS, "fields=browser")

        assert all(set(item) == {"id", "browser"} for item in page["items"])
        assert {item["id"] for item in page["items"]} == ids

    async def test_comma_separated_and_repeated_forms_agree(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        forms = ["fields=name,viewport", "fields=name&fields=viewport", "fields=name,%20viewport"]

        for form in forms:
            page = await _list(client, BROWSERS, f"{form}&sort_by=name&order=asc")
            first = page["items"][0]
            assert set(first) == {"id", "name", "viewport"}, form
            assert first["viewport"] == {"width": 1280, "height": 720}, form

    async def test_works_with_filters_and_paging(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        page = await _list(
            client, BROWSERS, "fields=name&browser=firefox&sort_by=name&order=asc&limit=1&page=2"
        )

        assert page["items"] == [{"id": page["items"][0]["id"], "name": "Delta"}]
        assert (page["total"], page["pages"]) == (2, 2)

    async def test_an_unknown_field_is_422(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        for fields in ("name,colour", "_id", "viewport.width", "password"):
            body = assert_invalid(await client.get(BROWSERS, params={"fields": fields}), "query")
            assert "selectable" in body["detail"], fields

    async def test_an_empty_selection_is_422(
        self, client: httpx.AsyncClient, five: list[dict[str, Any]]
    ) -> None:
        for fields in ("", ",", " , "):
            body = assert_invalid(
                await client.get(BROWSERS, params={"fields": fields}), "query.fields"
            )
            assert "at least one field" in body["detail"], fields

    async def test_never_reveals_a_secret(
        self, client: httpx.AsyncClient, environments: dict[str, dict[str, Any]]
    ) -> None:
        for fields in ("variables", "id,variables", "name,variables"):
            response = await client.get(ENVIRONMENTS, params={"fields": fields, "sort_by": "name"})
            assert response.status_code == 200, response.text
            assert "staging-s3cr3t" not in response.text
            staging = next(item for item in response.json()["items"] if item["variables"])
            assert {"name": "API_TOKEN", "value": None, "secret": True} in staging["variables"]


class TestUnknownQueryParameters:
    async def test_a_misspelt_filter_is_422_naming_it_never_a_wider_list(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        for parameter in ("browsr", "is_defualt", "Browser", "sort", "per_page", "offset", "q"):
            response = await client.get(BROWSERS, params={parameter: "chrome"})
            body = assert_invalid(response, f"query.{parameter}")
            assert parameter in body["detail"]

    async def test_on_environments(
        self, client: httpx.AsyncClient, environments: dict[str, dict[str, Any]]
    ) -> None:
        body = assert_invalid(await client.get(ENVIRONMENTS, params={"active": "false"}), "query")

        assert "active" in body["detail"]

    async def test_known_and_unknown_together_is_still_422(
        self, client: httpx.AsyncClient, browsers: dict[str, dict[str, Any]]
    ) -> None:
        response = await client.get(f"{BROWSERS}?browser=chrome&headles=false")

        assert_invalid(response, "query.headles")


# -- run_bulk ----------------------------------------------------------------------------------


@pytest.fixture
async def things(db: AsyncDatabase[Any]) -> AsyncCollection[Any]:
    """A collection with a unique `name`, holding `existing`."""
    collection = db["bulk_things"]
    await collection.create_index("name", unique=True)
    await collection.insert_one({"_id": ObjectId(), "name": "existing", "size": 1})
    return collection


def _insert(name: str) -> BulkOutcome:
    id = ObjectId()
    return BulkOutcome(status=BulkStatus.CREATED, id=id, op=InsertOne({"_id": id, "name": name}))


def _update(id: ObjectId, **changes: Any) -> BulkOutcome:
    return BulkOutcome(
        status=BulkStatus.UPDATED, id=id, op=UpdateOne({"_id": id}, {"$set": changes})
    )


def _delete(id: ObjectId) -> BulkOutcome:
    return BulkOutcome(status=BulkStatus.DELETED, id=id, op=DeleteOne({"_id": id}))


def _invalid(message: str) -> BulkOutcome:
    return BulkOutcome(status=BulkStatus.FAILED, error=InvalidInput.at("body.name", message))


async def _names(collection: AsyncCollection[Any]) -> list[str]:
    return sorted([doc["name"] async for doc in collection.find({}, {"name": 1})])


async def _existing_id(collection: AsyncCollection[Any]) -> ObjectId:
    document = await collection.find_one({"name": "existing"})
    assert document is not None
    identifier: ObjectId = document["_id"]
    return identifier


class TestBulkItemFailures:
    """One item's failure is reported at its index and never stops the other items."""

    async def test_one_bad_item_does_not_sink_the_others(
        self, things: AsyncCollection[Any]
    ) -> None:
        items = [_insert("a"), _invalid("name is too long"), _insert("b")]

        response = await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert [(r.index, r.status) for r in response.results] == [
            (0, BulkStatus.CREATED),
            (1, BulkStatus.FAILED),
            (2, BulkStatus.CREATED),
        ]
        assert [r.id for r in response.results] == [str(items[0].id), None, str(items[2].id)]
        failure = response.results[1].error
        assert failure is not None
        assert (failure.status, failure.type, failure.detail) == (
            422,
            "/problems/validation-error",
            "name is too long",
        )
        assert (response.created, response.updated, response.deleted, response.failed) == (
            2,
            0,
            0,
            1,
        )
        assert await _names(things) == ["a", "b", "existing"]

    async def test_a_duplicate_key_fails_only_its_item_with_409(
        self, things: AsyncCollection[Any]
    ) -> None:
        items = [_insert("existing"), _insert("new"), _insert("new"), _insert("other")]

        response = await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        statuses = [r.status for r in response.results]
        assert statuses == [
            BulkStatus.FAILED,
            BulkStatus.CREATED,
            BulkStatus.FAILED,
            BulkStatus.CREATED,
        ]
        for result in (response.results[0], response.results[2]):
            assert result.error is not None
            assert (result.error.status, result.error.type) == (409, "/problems/conflict")
            assert result.id is None
        assert (response.created, response.failed) == (2, 2)
        assert await _names(things) == ["existing", "new", "other"]

    async def test_an_update_causing_a_duplicate_fails_with_409(
        self, things: AsyncCollection[Any]
    ) -> None:
        other = _insert("other")
        await run_bulk(things, [other], label="thing", batch_size=EMBEDDED_WRITE_BATCH)
        assert other.id is not None

        response = await run_bulk(
            things,
            [_update(other.id, name="existing")],
            label="thing",
            batch_size=EMBEDDED_WRITE_BATCH,
        )

        [result] = response.results
        assert result.error is not None
        assert result.error.status == 409
        assert await _names(things) == ["existing", "other"]

    async def test_a_document_the_schema_validator_refuses_fails_with_422(
        self, db: AsyncDatabase[Any]
    ) -> None:
        await db.create_collection(
            "validated_things", validator={"$jsonSchema": {"required": ["name"]}}
        )
        collection = db["validated_things"]
        nameless = ObjectId()
        items = [
            BulkOutcome(status=BulkStatus.CREATED, id=nameless, op=InsertOne({"_id": nameless})),
            _insert("named"),
        ]

        response = await run_bulk(collection, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert [r.status for r in response.results] == [BulkStatus.FAILED, BulkStatus.CREATED]
        error = response.results[0].error
        assert error is not None
        assert (error.status, error.type) == (422, "/problems/validation-error")
        assert await _names(collection) == ["named"]

    async def test_updating_or_deleting_an_unknown_id_fails_that_item_with_404(
        self, things: AsyncCollection[Any]
    ) -> None:
        existing = await _existing_id(things)
        missing = ObjectId()
        items = [_update(missing, size=2), _update(existing, size=3), _delete(ObjectId())]

        response = await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert [r.status for r in response.results] == [
            BulkStatus.FAILED,
            BulkStatus.UPDATED,
            BulkStatus.FAILED,
        ]
        for result in (response.results[0], response.results[2]):
            assert result.error is not None
            assert (result.error.status, result.error.type) == (404, "/problems/not-found")
        assert response.results[0].error is not None
        assert str(missing) in (response.results[0].error.detail or "")
        assert response.results[1].id == str(existing)
        assert (response.updated, response.failed) == (1, 2)
        assert await things.count_documents({}) == 1
        assert await things.count_documents({"size": 3}) == 1


class TestBulkResults:
    """Every item gets a result, in request order, and the totals add up."""

    async def test_results_follow_the_request_order_with_totals(
        self, things: AsyncCollection[Any]
    ) -> None:
        existing = await _existing_id(things)
        doomed = _insert("doomed")
        await run_bulk(things, [doomed], label="thing", batch_size=EMBEDDED_WRITE_BATCH)
        assert doomed.id is not None
        items = [
            _delete(ObjectId()),
            _insert("fresh"),
            _invalid("bad"),
            _update(existing, size=10),
            _insert("existing"),
            _delete(doomed.id),
        ]

        response = await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert [r.index for r in response.results] == list(range(len(items)))
        assert [r.status for r in response.results] == [
            BulkStatus.FAILED,
            BulkStatus.CREATED,
            BulkStatus.FAILED,
            BulkStatus.UPDATED,
            BulkStatus.FAILED,
            BulkStatus.DELETED,
        ]
        assert [r.error.status if r.error else None for r in response.results] == [
            404,
            None,
            422,
            None,
            409,
            None,
        ]
        assert (response.created, response.updated, response.deleted, response.failed) == (
            1,
            1,
            1,
            3,
        )
        assert await _names(things) == ["existing", "fresh"]
        assert await things.count_documents({"name": "existing", "size": 10}) == 1

    async def test_no_items_is_an_empty_result(self, things: AsyncCollection[Any]) -> None:
        response = await run_bulk(things, [], label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert response.results == []
        assert (response.created, response.updated, response.deleted, response.failed) == (
            0,
            0,
            0,
            0,
        )


class TestBulkSizeLimit:
    async def test_accepts_the_maximum_number_of_items(self, things: AsyncCollection[Any]) -> None:
        items = [_delete(ObjectId()) for _ in range(MAX_BULK_ITEMS)]

        response = await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        assert response.failed == MAX_BULK_ITEMS
        assert {r.error.status for r in response.results if r.error} == {404}

    async def test_more_than_the_maximum_is_refused_and_nothing_is_written(
        self, things: AsyncCollection[Any]
    ) -> None:
        items = [_insert(f"item-{n}") for n in range(MAX_BULK_ITEMS + 1)]

        with pytest.raises(ProblemError) as refused:
            await run_bulk(things, items, label="thing", batch_size=EMBEDDED_WRITE_BATCH)

        problem = refused.value.to_problem()
        assert problem.status == 422
        assert problem.errors is not None
        assert [error.location for error in problem.errors] == ["body"]
        assert str(MAX_BULK_ITEMS) in (problem.detail or "")
        assert await _names(things) == ["existing"]


class TestFallbackScore:
    async def test_one_word_over_one_field_scores_on_the_engine(
        self, db: AsyncDatabase[Any]
    ) -> None:
        """A single term is not wrapped in `$add` (the embedded engine wants two or more)."""
        collection = db["scored"]
        await collection.insert_many([{"name": "login page"}, {"name": "logout"}])
        score = fallback_score("login", TextIndex(weights={"name": 3}), ucp=False)
        pipeline: list[dict[str, Any]] = [{"$addFields": {"score": score}}, {"$sort": {"name": 1}}]
        scored = await (await collection.aggregate(pipeline)).to_list()
        assert [(doc["name"], doc["score"]) for doc in scored] == [("login page", 3), ("logout", 0)]
