"""`GET /api/v1/tests`: typed filters, date ranges, sorting (priority by rank), `fields=`,
pagination, strict parameters, and full-text search (`q`) on both engine paths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import Capabilities
from api.deps import get_capabilities
from api.query.listing import find_page
from api.test_defs.params import TestCaseListParams
from documents.test_defs import TestCase
from tests.api.helpers import assert_invalid, names
from tests.api.test_defs.helpers import CASE_COLLECTION, TESTS, create_case
from tests.conftest import REAL_MONGODB

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
UPDATED = datetime(2024, 6, 1, tzinfo=UTC)

# Created in this order, on consecutive days from CREATED; updated in the reverse order, on
# consecutive days from UPDATED (so sorting by created_at and by updated_at differ).
SPECS: list[dict[str, Any]] = [
    {
        "name": "Checkout flow",
        "status": "active",
        "priority": "high",
        "tags": ["cart", "payment"],
        "owner": "alice",
        "description": "Pays with a saved card",
    },
    {
        "name": "Login form",
        "status": "active",
        "priority": "critical",
        "tags": ["smoke", "login"],
        "owner": "bob",
        "description": "Signs in and lands on the checkout page",
    },
    {
        "name": "Search box",
        "status": "draft",
        "priority": "low",
        "tags": ["smoke", "checkout"],
        "owner": "alice",
        "description": "Finds products by keyword",
    },
    {
        "name": "Profile page",
        "status": "deprecated",
        "priority": "medium",
        "tags": [],
        "owner": "carol",
    },
    {
        "name": "Yearly report",
        "status": "archived",
        "priority": "medium",
        "tags": ["regression"],
        "description": "Exports the yearly report",
    },
]
NAMES = [spec["name"] for spec in SPECS]


def _day(start: datetime, index: int) -> datetime:
    return start + timedelta(days=index)


@pytest.fixture
async def cases(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> dict[str, dict[str, Any]]:
    """The five cases of SPECS, by name, with deterministic timestamps set in the database."""
    created: dict[str, dict[str, Any]] = {}
    for index, spec in enumerate(SPECS):
        body = await create_case(client, **spec)
        await db[CASE_COLLECTION].update_one(
            {"_id": ObjectId(body["id"])},
            {
                "$set": {
                    "created_at": _day(CREATED, index),
                    "updated_at": _day(UPDATED, len(SPECS) - 1 - index),
                }
            },
        )
        created[spec["name"]] = body
    return created


async def _list(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.get(f"{TESTS}?{query}")
    assert response.status_code == 200, (query, response.text)
    page: dict[str, Any] = response.json()
    return page


async def _check(client: httpx.AsyncClient, table: dict[str, list[str]]) -> None:
    """Each query (sorted by name) selects exactly these names."""
    for query, expected in table.items():
        page = await _list(client, f"{query}&sort_by=name&order=asc")
        assert names(page) == sorted(expected), query
        assert page["total"] == len(expected), query


class TestFilters:
    async def test_status_is_any_of(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "status=active": ["Checkout flow", "Login form"],
                "status=active,draft": ["Checkout flow", "Login form", "Search box"],
                "status=deprecated&status=archived": ["Profile page", "Yearly report"],
            },
        )

    async def test_priority_is_any_of(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "priority=high,critical": ["Checkout flow", "Login form"],
                "priority=medium": ["Profile page", "Yearly report"],
                "priority=low": ["Search box"],
            },
        )

    async def test_an_empty_value_in_a_list_is_422_not_ignored(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        for query in ("priority=low,", "tags=", "owner=alice,,bob", "status="):
            response = await client.get(f"{TESTS}?{query}")
            assert response.status_code == 422, (query, response.text)

    async def test_tags_has_any_of(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "tags=smoke": ["Login form", "Search box"],
                "tags=cart,regression": ["Checkout flow", "Yearly report"],
                "tags=login,smoke": ["Login form", "Search box"],
                "tags=nightly": [],
            },
        )

    async def test_owner_is_any_of(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "owner=alice": ["Checkout flow", "Search box"],
                "owner=bob,carol": ["Login form", "Profile page"],
                "owner=dave": [],
            },
        )

    async def test_filters_combine_with_and(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "status=active&tags=smoke": ["Login form"],
                "owner=alice&priority=low,medium": ["Search box"],
                "status=draft&priority=high": [],
            },
        )

    async def test_created_range_is_inclusive(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "created_from=2024-01-02T00:00:00Z": NAMES[1:],
                "created_to=2024-01-02T00:00:00Z": NAMES[:2],
                "created_from=2024-01-02&created_to=2024-01-04T00:00:00Z": NAMES[1:4],
                "created_from=2024-01-02T01:00:00%2B01:00&created_to=2024-01-02T00:00:00Z": [
                    "Login form"
                ],
                "created_from=2024-01-06T00:00:00Z": [],
            },
        )

    async def test_updated_range_is_inclusive(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        # Updated in the reverse order: the last case on June 1st, the first on June 5th.
        await _check(
            client,
            {
                "updated_from=2024-06-04T00:00:00Z": NAMES[:2],
                "updated_to=2024-06-01T00:00:00Z": NAMES[4:],
                "updated_from=2024-06-02T00:00:00Z&updated_to=2024-06-03T12:00:00Z": NAMES[2:4],
                "created_from=2024-01-02T00:00:00Z&updated_from=2024-06-04T00:00:00Z": NAMES[1:2],
            },
        )

    async def test_a_patch_moves_a_case_into_the_updated_range(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        await client.patch(f"{TESTS}/{cases['Profile page']['id']}", json={"owner": "dave"})

        query = f"updated_from={before.isoformat().replace('+00:00', 'Z')}"
        await _check(client, {query: ["Profile page"]})


class TestSorting:
    async def _names(self, client: httpx.AsyncClient, query: str) -> list[str]:
        return names(await _list(client, query))

    async def test_default_is_newest_first(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        assert await self._names(client, "") == NAMES[::-1]

    async def test_created_at_and_updated_at(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        assert await self._names(client, "sort_by=created_at&order=asc") == NAMES
        assert await self._names(client, "sort_by=updated_at&order=asc") == NAMES[::-1]
        assert await self._names(client, "sort_by=updated_at&order=desc") == NAMES

    async def test_name(self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]) -> None:
        assert await self._names(client, "sort_by=name&order=asc") == sorted(NAMES)
        assert await self._names(client, "sort_by=name") == sorted(NAMES, reverse=True)

    async def test_priority_sorts_by_rank_not_alphabetically(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        ascending = await _list(client, "sort_by=priority&order=asc")
        descending = await _list(client, "sort_by=priority&order=desc")

        priorities = [item["priority"] for item in ascending["items"]]
        assert priorities == ["low", "medium", "medium", "high", "critical"]
        # Equal priorities fall back to the id (creation order), in the same direction.
        assert names(ascending) == [
            "Search box",
            "Profile page",
            "Yearly report",
            "Checkout flow",
            "Login form",
        ]
        assert names(descending) == names(ascending)[::-1]
        assert "_sort_key" not in ascending["items"][0]

    async def test_priority_rank_holds_across_pages(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        pages = [
            names(await _list(client, f"sort_by=priority&order=desc&limit=2&page={number}"))
            for number in (1, 2, 3)
        ]

        assert pages == [
            ["Login form", "Checkout flow"],
            ["Yearly report", "Profile page"],
            ["Search box"],
        ]

    async def test_a_changed_priority_moves_the_case_in_priority_order(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        search_box = cases["Search box"]["id"]
        patched = await client.patch(f"{TESTS}/{search_box}", json={"priority": "critical"})
        assert patched.status_code == 200
        bulk = await client.post(
            f"{TESTS}/bulk",
            json={
                "operations": [
                    {"op": "update", "id": cases["Login form"]["id"], "data": {"priority": "low"}}
                ]
            },
        )
        assert bulk.status_code == 200, bulk.text

        page = await _list(client, "sort_by=priority&order=desc&fields=name,priority")

        assert [(item["name"], item["priority"]) for item in page["items"]] == [
            ("Search box", "critical"),
            ("Checkout flow", "high"),
            ("Yearly report", "medium"),
            ("Profile page", "medium"),
            ("Login form", "low"),
        ]

    async def test_status(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        page = await _list(client, "sort_by=status&order=asc")

        assert [item["status"] for item in page["items"]] == [
            "active",
            "active",
            "archived",
            "deprecated",
            "draft",
        ]
        assert names(page)[:2] == ["Checkout flow", "Login form"]


class TestFieldsAndPages:
    async def test_fields_returns_only_those_fields_and_id(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        page = await _list(client, "fields=name,priority&sort_by=priority&order=asc&limit=2")

        assert page["items"] == [
            {"id": cases["Search box"]["id"], "name": "Search box", "priority": "low"},
            {"id": cases["Profile page"]["id"], "name": "Profile page", "priority": "medium"},
        ]

    async def test_fields_can_select_the_steps(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        created = await create_case(client, "With steps", steps=[{"action": "click"}])

        page = await _list(client, "fields=id,steps")

        assert page["items"] == [{"id": created["id"], "steps": created["steps"]}]

    async def test_without_fields_items_are_full_cases(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        page = await _list(client, "sort_by=created_at&order=asc")

        first = cases["Checkout flow"]
        assert page["items"][0] == {
            **first,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-06-05T00:00:00Z",
        }

    async def test_page_envelope(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        query = "sort_by=name&order=asc&limit=2"
        expected = [sorted(NAMES)[0:2], sorted(NAMES)[2:4], sorted(NAMES)[4:]]

        for number, content in enumerate(expected, start=1):
            page = await _list(client, f"{query}&page={number}")
            assert names(page) == content
            assert (page["total"], page["page"], page["limit"], page["pages"]) == (5, number, 2, 3)
        beyond = await _list(client, f"{query}&page=9")
        assert beyond == {"items": [], "total": 5, "page": 9, "limit": 2, "pages": 3}

    async def test_an_empty_collection(self, client: httpx.AsyncClient) -> None:
        page = await _list(client, "")

        assert page == {"items": [], "total": 0, "page": 1, "limit": 50, "pages": 0}


class TestInvalidParameters:
    async def test_is_422(self, client: httpx.AsyncClient) -> None:
        table: list[tuple[str, str]] = [
            ("status=done", "query.status"),
            ("status=active,done", "query.status"),
            ("priority=urgent", "query.priority"),
            ("tags=two%20words", "query.tags"),
            ("tags=$where", "query.tags"),
            ("created_from=yesterday", "query.created_from"),
            ("updated_to=2024-13-01", "query.updated_to"),
            ("created_from=0.5", "query.created_from"),
            ("created_to=1700000000", "query.created_to"),
            ("updated_from=2024-01-02T00:00:00", "query.updated_from"),
            ("sort_by=version", "query.sort_by"),
            ("sort_by=priority&order=up", "query.order"),
            ("fields=name,secret", "query.fields"),
            ("fields=", "query.fields"),
            ("limit=201", "query.limit"),
            ("page=0", "query.page"),
            ("q=", "query.q"),
            (f"q={'x' * 201}", "query.q"),
            ("statuz=active", "query.statuz"),
            ("status[$ne]=x", "query.status[$ne]"),
            ("q[$gt]=", "query.q[$gt]"),
            ("owner[$regex]=.*", "query.owner[$regex]"),
            ("filter=%7B%22status%22%3A%22active%22%7D", "query.filter"),
        ]
        for query, location in table:
            assert_invalid(await client.get(f"{TESTS}?{query}"), location)

    async def test_operator_shaped_values_are_plain_values(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check(
            client,
            {
                "owner=%7B%22%24ne%22%3A%22x%22%7D": [],
                "owner=$ne": [],
                "q=%7B%22%24gt%22%3A%22%22%7D": [],
            },
        )


# -- full-text search ------------------------------------------------------------------------


async def _check_full_text(client: httpx.AsyncClient) -> None:
    """What `q` must do on either path; the five SPECS cases exist."""
    relevance = ["Checkout flow", "Search box", "Login form"]  # name, then tag, then description

    assert names(await _list(client, "q=checkout")) == relevance
    assert names(await _list(client, "q=CheckOut")) == relevance
    assert (await _list(client, "q=checkout"))["total"] == 3
    # With sort_by, the order asked for wins over relevance.
    assert names(await _list(client, "q=checkout&sort_by=name&order=asc")) == sorted(relevance)
    assert names(await _list(client, "q=checkout&sort_by=priority&order=desc")) == [
        "Login form",
        "Checkout flow",
        "Search box",
    ]
    # Filters narrow the matches; pages and fields apply to the ranked list.
    assert names(await _list(client, "q=checkout&status=active")) == [
        "Checkout flow",
        "Login form",
    ]
    paged = await _list(client, "q=checkout&limit=1&page=2")
    assert (names(paged), paged["total"], paged["pages"]) == (["Search box"], 3, 3)
    projected = await _list(client, "q=checkout&fields=name")
    assert [set(item) for item in projected["items"]] == [{"id", "name"}] * 3
    assert names(projected) == relevance
    # Any of the words; whole words only; every indexed field.
    assert sorted(names(await _list(client, "q=yearly%20login"))) == [
        "Login form",
        "Yearly report",
    ]
    assert names(await _list(client, "q=check")) == []
    assert names(await _list(client, "q=card")) == ["Checkout flow"]
    assert names(await _list(client, "q=regression")) == ["Yearly report"]
    assert names(await _list(client, "q=nothing")) == []
    # Punctuation and regex syntax are not special.
    assert names(await _list(client, "q=checkout.*")) == relevance
    assert names(await _list(client, "q=%22payment%22%20(yearly)")) == [
        "Yearly report",
        "Checkout flow",
    ]
    assert names(await _list(client, "q=%5E.*%24")) == []


@pytest.fixture
def fallback_text(app: FastAPI) -> Iterator[None]:
    """Force the fallback (what the embedded engine gets), whatever the deployment supports."""

    async def without_text() -> Capabilities:
        probed = await app.state.database.capabilities()
        assert isinstance(probed, Capabilities)
        return probed.model_copy(update={"full_text_search": False})

    app.dependency_overrides[get_capabilities] = without_text
    yield
    app.dependency_overrides.pop(get_capabilities, None)


class TestFullTextFallback:
    async def test_matches_and_ranks(
        self,
        client: httpx.AsyncClient,
        cases: dict[str, dict[str, Any]],
        fallback_text: None,
    ) -> None:
        await _check_full_text(client)

    @pytest.mark.skipif(REAL_MONGODB, reason="the embedded engine only")
    async def test_the_embedded_engine_takes_the_fallback(self, app: FastAPI) -> None:
        assert (await app.state.database.capabilities()).full_text_search is False


@pytest.mark.real_mongodb
class TestFullTextNative:
    async def test_the_deployment_has_full_text(self, app: FastAPI) -> None:
        assert (await app.state.database.capabilities()).full_text_search is True

    async def test_matches_and_ranks(
        self, client: httpx.AsyncClient, cases: dict[str, dict[str, Any]]
    ) -> None:
        await _check_full_text(client)

    async def test_both_paths_match_the_same_cases_for_plain_words(
        self, app: FastAPI, cases: dict[str, dict[str, Any]]
    ) -> None:
        for q in ("checkout", "smoke", "yearly login", "card", "page", "report keyword", "nope"):
            params = TestCaseListParams(q=q, limit=200)
            probed = await app.state.database.capabilities()
            fallback = await find_page(
                TestCase, params, capabilities=probed.model_copy(update={"full_text_search": False})
            )
            native = await find_page(TestCase, params, capabilities=probed)
            assert {doc["_id"] for doc in native.documents} == {
                doc["_id"] for doc in fallback.documents
            }, q
            assert native.total == fallback.total == len(fallback.documents), q


# Words of any script are whole words on every path: "über" is not in "Überblick", "ber" is not
# in "über" (MongoDB's own regex `\b` knows only ASCII letters, and would say both are).
UNICODE_SPECS: list[dict[str, Any]] = [
    {"name": "Über uns", "description": "Die Seite über das Team"},
    {"name": "Prüfung über Grenzen", "tags": ["straße"]},
    {"name": "Überblick", "description": "Alle Fälle"},
]


@pytest.fixture
async def unicode_cases(client: httpx.AsyncClient) -> None:
    for spec in UNICODE_SPECS:
        await create_case(client, **spec)


async def _check_unicode_words(client: httpx.AsyncClient) -> None:
    both = ["Prüfung über Grenzen", "Über uns"]
    assert sorted(names(await _list(client, "q=über"))) == both
    assert sorted(names(await _list(client, "q=%C3%9CBER"))) == both  # "ÜBER"
    assert names(await _list(client, "q=ber")) == []
    assert names(await _list(client, "q=berblick")) == []
    assert names(await _list(client, "q=überblick")) == ["Überblick"]
    assert names(await _list(client, "q=prüfung")) == ["Prüfung über Grenzen"]
    assert names(await _list(client, "q=straße")) == ["Prüfung über Grenzen"]  # a tag
    assert names(await _list(client, "q=fälle")) == ["Überblick"]  # a description
    assert names(await _list(client, "q=f")) == []


class TestUnicodeWords:
    async def test_the_fallback_matches_whole_words_of_any_script(
        self, client: httpx.AsyncClient, unicode_cases: None, fallback_text: None
    ) -> None:
        await _check_unicode_words(client)

    async def test_the_fallback_ranks_them_by_the_index_weights(
        self, client: httpx.AsyncClient, unicode_cases: None, fallback_text: None
    ) -> None:
        # "über" in a name (10) comes before "über" in a description only (1).
        await create_case(client, name="Kontakt", description="Mehr über uns")

        assert names(await _list(client, "q=uns")) == ["Über uns", "Kontakt"]

    @pytest.mark.real_mongodb
    async def test_the_native_search_matches_the_same(
        self, client: httpx.AsyncClient, unicode_cases: None
    ) -> None:
        await _check_unicode_words(client)


@pytest.mark.real_mongodb
class TestUnicodeFallbackOnMongoDB:
    """The fallback on MongoDB itself, whose regular expressions are PCRE2 without UCP."""

    async def test_the_servers_plain_word_boundaries_know_only_ascii(
        self, db: AsyncDatabase[Any], unicode_cases: None
    ) -> None:
        # Why the fallback cannot send a plain `\b`: this server would get both of these wrong.
        by_plain_b = db[CASE_COLLECTION].count_documents
        assert await by_plain_b({"name": {"$regex": r"\bber\b", "$options": "i"}}) == 2
        assert await by_plain_b({"name": {"$regex": r"\büber\b", "$options": "i"}}) == 0

    async def test_the_fallback_matches_whole_words_of_any_script(
        self, client: httpx.AsyncClient, unicode_cases: None, fallback_text: None
    ) -> None:
        await _check_unicode_words(client)
