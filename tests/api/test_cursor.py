"""Keyset cursors (api/query/cursor.py, `CursorListParams` and `find_page`).

No route pages by cursor yet, so the list layer is tested on a small collection of its own
(`Probe`, with a sort field that has ties, nulls and missing values), directly and through a
minimal app built here; the executions and runs routers test their own lists over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import httpx
import pytest
from beanie import Document, init_beanie
from bson import ObjectId
from fastapi import FastAPI, Query
from pydantic import BaseModel, SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from api.errors import InvalidInput, install_problem_handlers
from api.main import create_app
from api.query import (
    CursorListParams,
    CursorPage,
    Equals,
    RawPage,
    SortOrder,
    find_page,
)
from api.query.cursor import (
    MAX_CURSOR_LENGTH,
    TAG_BYTES,
    Cursor,
    SortValue,
    decode_cursor,
    encode_cursor,
    keyset_filter,
    use_secret,
)
from api.query.fields import partial_model
from api.query.listing import selectable
from api.query.sorting import sort_spec
from api.query.text import TextIndex
from api.schemas import ReadModel
from api.settings import DEFAULT_CURSOR_SECRET, Settings
from documents.base import sort_indexes
from tests.api.helpers import assert_invalid, served

CURSOR = "query.cursor"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Meta(BaseModel):
    size: int | None = None
    note: str = ""


class Probe(Document):
    """A small test collection: `rank`, `when` and `meta.size` have ties, nulls and gaps."""

    rank: int | None = None
    label: str
    when: datetime | None = None
    group: str = "a"
    meta: Meta = Meta()

    class Settings:
        name = "cursor_probes"
        indexes: ClassVar = sort_indexes("rank", "label", "when", "meta.size")


class ProbeRead(ReadModel):
    rank: int | None = None
    label: str
    when: datetime | None = None
    group: str
    meta: Meta


ProbeItem = partial_model(ProbeRead)


class ProbeSort(StrEnum):
    ID = "id"
    RANK = "rank"
    LABEL = "label"
    WHEN = "when"
    SIZE = "size"


class ProbeParams(CursorListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(ProbeRead)
    sort_paths: ClassVar[dict[str, str]] = {"size": "meta.size"}

    sort_by: ProbeSort = ProbeSort.WHEN
    group: Annotated[str | None, Equals("group")] = None


class SearchableProbeParams(ProbeParams):
    text_index: ClassVar[TextIndex | None] = TextIndex(weights={"label": 2, "group": 1})

    q: str | None = None


def _ids(count: int) -> list[ObjectId]:
    """`count` ids, out of order (a step coprime to `count`): their order is not the values'."""
    ids = [ObjectId() for _ in range(count)]
    return [ids[number * 7 % count] for number in range(count)]


RANKS: list[int | str | None] = [3, None, 1, 3, "missing", 2, 3, None, 1, 5, 3, 2, 4, None]
RANKS += [1, 3, "missing", 5, 2, 3, None, 4]
"""22 probes: ties on every value, nulls and missing ranks (`missing`: no field at all)."""


def _seed() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for number, (rank, oid) in enumerate(zip(RANKS, _ids(len(RANKS)), strict=True)):
        document: dict[str, Any] = {
            "_id": oid,
            "label": f"probe {number % 7}",  # ties
            "when": None if number % 5 == 0 else T0 + timedelta(minutes=number % 4),
            "group": "a" if number % 3 else "b",
            "meta": {"size": None if number % 4 == 0 else number % 3, "note": f"n{number}"},
        }
        if rank != "missing":
            document["rank"] = rank
        documents.append(document)
    return documents


@pytest.fixture
async def probes(mongo: AsyncMongoClient[Any], db_name: str) -> AsyncCollection[dict[str, Any]]:
    await init_beanie(database=mongo[db_name], document_models=[Probe])
    collection: AsyncCollection[dict[str, Any]] = Probe.get_pymongo_collection()
    await collection.insert_many(_seed())
    return collection


def params(**query: Any) -> ProbeParams:
    return ProbeParams.model_validate(query)


def _stored_at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def mongodb_order(documents: list[dict[str, Any]], sort_by: str, order: str) -> list[ObjectId]:
    """The ids in MongoDB's order: null and missing first ascending, ties by `_id`."""
    path = {"id": "_id", "size": "meta.size"}.get(sort_by, sort_by)

    def key(document: dict[str, Any]) -> tuple[Any, ...]:
        value = _stored_at(document, path)
        return (value is not None, value if value is not None else 0, document["_id"])

    ascending = [document["_id"] for document in sorted(documents, key=key)]
    return ascending if order == "asc" else ascending[::-1]


async def walk_by_page(**query: Any) -> list[ObjectId]:
    ids: list[ObjectId] = []
    number = 1
    while True:
        raw = await find_page(Probe, params(**query, page=number))
        ids += [document["_id"] for document in raw.documents]
        if number >= max(raw.total, 1) / raw.limit:
            return ids
        number += 1


async def walk_by_cursor(
    *, between: Callable[[RawPage], Any] | None = None, **query: Any
) -> list[RawPage]:
    """Every page by `next_cursor`; `between(page)` runs after each page (e.g. inserts)."""
    pages: list[RawPage] = []
    cursor: str | None = None
    while True:
        raw = await find_page(Probe, params(**query, **({"cursor": cursor} if cursor else {})))
        pages.append(raw)
        assert len(pages) <= len(RANKS) + 10, "the walk does not end"
        cursor = raw.next_cursor
        if cursor is None:
            return pages
        if between is not None:
            await between(raw)


def ids_of(pages: list[RawPage]) -> list[ObjectId]:
    return [document["_id"] for page in pages for document in page.documents]


def sign(payload: bytes, secret: str = DEFAULT_CURSOR_SECRET) -> str:
    """A cursor of any payload, signed as the service signs its own."""
    tag = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:TAG_BYTES]
    return base64.urlsafe_b64encode(tag + payload).rstrip(b"=").decode()


def refused(query: dict[str, Any]) -> str:
    """The message of the 422 at `query.cursor` that the cursor in `query` gets."""
    with pytest.raises(InvalidInput) as caught:
        params(**query).position()
    assert caught.value.errors is not None
    [error] = caught.value.errors
    assert error.location == CURSOR
    return error.message


SORTS = [(sort_by.value, order.value) for sort_by in ProbeSort for order in SortOrder]


class TestWalk:
    @pytest.mark.parametrize(("sort_by", "order"), SORTS)
    async def test_cursors_give_each_item_once_in_the_order_of_pages(
        self, probes: AsyncCollection[dict[str, Any]], sort_by: str, order: str
    ) -> None:
        query: dict[str, Any] = {"sort_by": sort_by, "order": order, "limit": 5}
        expected = mongodb_order(await probes.find().to_list(), sort_by, order)

        pages = await walk_by_cursor(**query)

        assert await walk_by_page(**query) == expected
        assert ids_of(pages) == expected
        assert [len(page.documents) for page in pages] == [5, 5, 5, 5, 2]
        for page in pages:
            assert (page.total, page.page, page.limit) == (len(RANKS), 1, 5)

    async def test_a_full_last_page_has_no_next_cursor(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        pages = await walk_by_cursor(sort_by="rank", order="asc", limit=11)

        assert [len(page.documents) for page in pages] == [11, 11]
        assert pages[-1].next_cursor is None

    async def test_limit_one(self, probes: AsyncCollection[dict[str, Any]]) -> None:
        expected = mongodb_order(await probes.find().to_list(), "size", "desc")

        assert ids_of(await walk_by_cursor(sort_by="size", order="desc", limit=1)) == expected

    async def test_a_filter_applies_to_every_page_and_the_total(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        group_b = await probes.find({"group": "b"}).to_list()

        pages = await walk_by_cursor(sort_by="rank", order="desc", limit=3, group="b")

        assert ids_of(pages) == mongodb_order(group_b, "rank", "desc")
        assert {page.total for page in pages} == {len(group_b)}

    async def test_an_empty_list_has_no_next_cursor(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        raw = await find_page(Probe, params(group="none"))

        assert (raw.documents, raw.total, raw.next_cursor) == ([], 0, None)

    async def test_page_and_limit_still_work_and_a_page_gives_the_cursor_of_what_follows(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        whole = await walk_by_page(sort_by="when", order="asc", limit=4)

        third = await find_page(Probe, params(sort_by="when", order="asc", limit=4, page=3))
        after = await find_page(
            Probe, params(sort_by="when", order="asc", limit=4, cursor=third.next_cursor)
        )

        assert third.page == 3
        assert [document["_id"] for document in third.documents] == whole[8:12]
        assert [document["_id"] for document in after.documents] == whole[12:16]
        assert after.page == 1

    async def test_a_database_without_the_sort_index_still_answers(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        expected = mongodb_order(await probes.find().to_list(), "label", "desc")
        await probes.drop_indexes()

        assert ids_of(await walk_by_cursor(sort_by="label", order="desc", limit=8)) == expected

    async def test_a_page_beyond_the_end_has_no_next_cursor(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        raw = await find_page(Probe, params(limit=10, page=5))

        assert (raw.documents, raw.total, raw.next_cursor) == ([], len(RANKS), None)


def inserter(
    collection: AsyncCollection[dict[str, Any]], make: Callable[[int, RawPage], list[Any]]
) -> Callable[[RawPage], Any]:
    """Between pages, insert probes whose ranks `make(page number, page)` gives."""
    walked: list[RawPage] = []

    async def insert(page: RawPage) -> None:
        walked.append(page)
        ranks = make(len(walked), page)
        if ranks:
            await collection.insert_many(
                [{"rank": rank, "label": "new", "when": T0, "meta": {"size": 1}} for rank in ranks]
            )

    return insert


class TestInsertsWhileWalking:
    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_no_item_that_was_there_is_repeated_or_skipped(
        self, probes: AsyncCollection[dict[str, Any]], order: str
    ) -> None:
        before = mongodb_order(await probes.find().to_list(), "rank", order)

        def ranks(number: int, page: RawPage) -> list[Any]:
            if number > 3:  # inserts that outpace the walk would keep it going
                return []
            last = page.documents[-1].get("rank")
            # At both ends, at the page's last value (a newer id: after it), and in the middle.
            return [None, 0, 99, last, 3, 2]

        insert = inserter(probes, ranks)
        pages = await walk_by_cursor(between=insert, sort_by="rank", order=order, limit=4)

        walked = ids_of(pages)
        assert len(walked) == len(set(walked)), "an item was listed twice"
        assert [oid for oid in walked if oid in set(before)] == before
        assert len(walked) > len(before)  # the new items after the position were listed too

    async def test_new_items_at_the_end_of_a_newest_first_list_are_not_listed_again(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        before = mongodb_order(await probes.find().to_list(), "id", "desc")

        insert = inserter(probes, lambda number, page: [number] * 3)
        walked = ids_of(await walk_by_cursor(between=insert, sort_by="id", order="desc", limit=5))

        assert walked == before  # new ids are newer: ahead of the position, never reached

    async def test_offset_pages_would_repeat_what_cursors_do_not(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        """Why cursors: an insert ahead of the position shifts every later offset page."""
        first = await find_page(Probe, params(sort_by="id", order="desc", limit=5))
        await probes.insert_one({"label": "newest"})

        by_offset = await find_page(Probe, params(sort_by="id", order="desc", limit=5, page=2))
        by_cursor = await find_page(
            Probe, params(sort_by="id", order="desc", limit=5, cursor=first.next_cursor)
        )

        assert by_offset.documents[0]["_id"] == first.documents[-1]["_id"]  # listed again
        assert by_cursor.documents[0]["_id"] not in {d["_id"] for d in first.documents}


class TestFields:
    @pytest.mark.parametrize(
        ("sort_by", "fields", "kept"),
        [
            ("rank", "label", {"_id", "label"}),
            ("rank", "rank,label", {"_id", "rank", "label"}),
            ("when", "id", {"_id"}),
            ("size", "label", {"_id", "label"}),
            ("size", "meta", {"_id", "meta"}),
            ("id", "label", {"_id", "label"}),
        ],
    )
    async def test_the_items_have_the_fields_asked_for_and_cursors_still_work(
        self,
        probes: AsyncCollection[dict[str, Any]],
        sort_by: str,
        fields: str,
        kept: set[str],
    ) -> None:
        expected = mongodb_order(await probes.find().to_list(), sort_by, "asc")

        pages = await walk_by_cursor(sort_by=sort_by, order="asc", limit=6, fields=fields)

        assert ids_of(pages) == expected
        for page in pages:
            for document in page.documents:
                assert set(document) <= kept
        if "meta" in kept:
            assert all("note" in d["meta"] for page in pages for d in page.documents)


class TestSearch:
    async def test_a_search_sorted_by_a_field_pages_by_cursor(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        query = {"q": "3", "sort_by": "rank", "order": "asc", "limit": 1}
        expected = mongodb_order(await probes.find({"label": "probe 3"}).to_list(), "rank", "asc")

        pages: list[RawPage] = []
        cursor: str | None = None
        while not pages or cursor:
            extra = {"cursor": cursor} if cursor else {}
            raw = await find_page(Probe, SearchableProbeParams.model_validate({**query, **extra}))
            pages.append(raw)
            cursor = raw.next_cursor

        assert ids_of(pages) == expected
        assert len(expected) > 1

    async def test_a_search_ranked_by_relevance_pages_by_page_only(
        self, probes: AsyncCollection[dict[str, Any]]
    ) -> None:
        ranked = SearchableProbeParams.model_validate({"q": "probe", "limit": 2})
        first = await find_page(Probe, ranked)
        some_cursor = encode_cursor(Cursor("when", SortOrder.DESC, T0, ObjectId()))

        assert len(first.documents) == 2
        assert first.next_cursor is None
        with pytest.raises(InvalidInput) as caught:
            await find_page(
                Probe, SearchableProbeParams.model_validate({"q": "probe", "cursor": some_cursor})
            )
        assert caught.value.errors is not None
        assert caught.value.errors[0].location == CURSOR
        assert "relevance" in caught.value.detail


class TestRefusedCursors:
    @pytest.fixture
    def made(self) -> str:
        oid = ObjectId("6650a1b2c3d4e5f6a7b8c9d0")
        return encode_cursor(Cursor("rank", SortOrder.ASC, 3, oid))

    def test_the_cursor_is_accepted_unchanged(self, made: str) -> None:
        position = params(sort_by="rank", order="asc", cursor=made).position()

        assert position == Cursor("rank", SortOrder.ASC, 3, ObjectId("6650a1b2c3d4e5f6a7b8c9d0"))

    def test_any_one_character_changed(self, made: str) -> None:
        for at, char in enumerate(made):
            for other in {"A", "z", "-", "_", "0"} - {char}:
                changed = made[:at] + other + made[at + 1 :]
                refused({"sort_by": "rank", "order": "asc", "cursor": changed})

    def test_cut_short_or_lengthened(self, made: str) -> None:
        for length in range(1, len(made)):
            refused({"sort_by": "rank", "order": "asc", "cursor": made[:length]})
        for suffix in ("A", "AA", "=", "==", "AAAA"):
            refused({"sort_by": "rank", "order": "asc", "cursor": made + suffix})

    def test_garbage(self) -> None:
        for garbage in ("x", "abc", "!!!!", "a b", "%00", "é" * 8, "AAAA" * 20, "-" * 64):
            message = refused({"sort_by": "rank", "order": "asc", "cursor": garbage})
            assert "next_cursor" in message

    def test_made_for_another_sort_or_order(self, made: str) -> None:
        message = refused({"sort_by": "rank", "order": "desc", "cursor": made})
        assert "sort_by=rank&order=asc" in message
        refused({"sort_by": "label", "order": "asc", "cursor": made})
        refused({"cursor": made})  # the default sort

    def test_signed_by_another_secret(self) -> None:
        payload = b'["rank","asc",["i",3],["o","6650a1b2c3d4e5f6a7b8c9d0"]]'
        assert params(sort_by="rank", order="asc", cursor=sign(payload)).position() is not None

        refused({"sort_by": "rank", "order": "asc", "cursor": sign(payload, "another secret!!")})

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"not json",
            b"{}",
            b"[]",
            b'"rank"',
            b"4",
            b'["rank","asc",null]',
            b'["rank","asc",null,null,null]',
            b'{"a":1,"b":2,"c":3,"d":4}',
            b'[1,"asc",null,null]',
            b'["rank","sideways",null,null]',
            b'["rank","asc",["x",1],null]',
            b'["rank","asc",["i"],null]',
            b'["rank","asc",[1,2],null]',
            b'["rank","asc",{"i":1},null]',
            b'["rank","asc",["i",true],null]',
            b'["rank","asc",["i",1.5],null]',
            b'["rank","asc",["i","1"],null]',
            b'["rank","asc",["i",9223372036854775808],null]',
            b'["rank","asc",["b",1],null]',
            b'["rank","asc",["f","not a float"],null]',
            b'["rank","asc",["f",1.5],null]',
            b'["rank","asc",["s",1],null]',
            b'["rank","asc",["d","2026-01-01"],null]',
            b'["rank","asc",["d",999999999999999999],null]',
            b'["rank","asc",["o","zz50a1b2c3d4e5f6a7b8c9d0"],null]',
            b'["rank","asc",["o","6650"],null]',
            b'["rank","asc",null,["o",12]]',
            b"[" * 1000 + b"]" * 1000,
            b"\xff\xfe",
        ],
    )
    def test_signed_but_not_a_cursor(self, payload: bytes) -> None:
        """The default secret is public: whatever someone signs with it must still be a 422."""
        message = refused({"sort_by": "rank", "order": "asc", "cursor": sign(payload)})
        assert "content" in message

    def test_with_a_page_other_than_the_first(self, made: str) -> None:
        message = refused({"sort_by": "rank", "order": "asc", "cursor": made, "page": 2})
        assert "one or the other" in message

    def test_too_long_is_refused_by_validation(self) -> None:
        with pytest.raises(ValueError, match="cursor"):
            params(cursor="A" * (MAX_CURSOR_LENGTH + 1))
        with pytest.raises(ValueError, match="cursor"):
            params(cursor="")

    async def test_find_page_refuses_before_any_query(
        self, probes: AsyncCollection[dict[str, Any]], made: str
    ) -> None:
        with pytest.raises(InvalidInput):
            await find_page(Probe, params(sort_by="label", cursor=made))


@pytest.fixture
async def probe_api(probes: AsyncCollection[dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    """A minimal app with one cursor-paged list of probes (its own routes, its own errors)."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/probes", response_model_exclude_unset=True)
    async def list_probes(query: Annotated[ProbeParams, Query()]) -> CursorPage[ProbeItem]:  # type: ignore[valid-type]
        return (await find_page(Probe, query)).to_cursor_page(ProbeItem)

    async with served(app) as http:
        yield http


class TestOverHttp:
    async def test_the_envelope_and_a_walk(self, probe_api: httpx.AsyncClient) -> None:
        seen: list[str] = []
        query: dict[str, Any] = {"sort_by": "when", "order": "desc", "limit": 8, "fields": "label"}
        while True:
            response = await probe_api.get("/probes", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {"items", "total", "page", "limit", "pages", "next_cursor"}
            assert (body["total"], body["page"], body["pages"]) == (len(RANKS), 1, 3)
            assert all(set(item) == {"id", "label"} for item in body["items"])
            seen += [item["id"] for item in body["items"]]
            if body["next_cursor"] is None:
                break
            query["cursor"] = body["next_cursor"]

        assert len(seen) == len(set(seen)) == len(RANKS)

    async def test_a_tampered_cursor_is_a_422_problem(self, probe_api: httpx.AsyncClient) -> None:
        first = (await probe_api.get("/probes", params={"limit": 2})).json()
        tampered = first["next_cursor"][:-2]

        assert_invalid(await probe_api.get("/probes", params={"cursor": tampered}), CURSOR)
        assert_invalid(
            await probe_api.get("/probes", params={"cursor": first["next_cursor"], "page": 2}),
            CURSOR,
        )
        assert_invalid(await probe_api.get("/probes", params={"cursor": ""}), CURSOR)


ROUND_TRIPS: list[SortValue] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    1.5,
    -0.0,
    1e308,
    5e-324,
    math.inf,
    -math.inf,
    "",
    "probe 3",
    '𝄞 über "quoted" \\ ,:[]',
    "x" * 1500,
    ObjectId("6650a1b2c3d4e5f6a7b8c9d0"),
    datetime(2026, 3, 1, 9, 0, 0, 123000, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC),
]


class TestEncoding:
    @pytest.mark.parametrize("value", ROUND_TRIPS, ids=lambda value: repr(value)[:40])
    @pytest.mark.parametrize("order", list(SortOrder))
    def test_every_value_type_round_trips(self, value: SortValue, order: SortOrder) -> None:
        for last_id in (ObjectId(), value):
            cursor = Cursor("a_field", order, value, last_id)

            decoded = decode_cursor(encode_cursor(cursor))

            assert decoded == cursor
            assert type(decoded.value) is type(value)  # True stays a bool, 1.0 a float

    def test_nan_round_trips(self) -> None:
        decoded = decode_cursor(encode_cursor(Cursor("f", SortOrder.ASC, math.nan, None)))

        assert isinstance(decoded.value, float)
        assert math.isnan(decoded.value)

    def test_a_naive_datetime_is_utc(self) -> None:
        naive = datetime(2026, 3, 1, 9, 0)  # PyMongo's naive dates are UTC

        decoded = decode_cursor(encode_cursor(Cursor("when", SortOrder.ASC, naive, None)))

        assert decoded.value == naive.replace(tzinfo=UTC)

    def test_other_offsets_are_the_same_instant(self) -> None:
        moment = datetime(2026, 3, 1, 10, 0, tzinfo=UTC) + timedelta(hours=0)
        shifted = moment.astimezone(datetime.now().astimezone().tzinfo)

        decoded = decode_cursor(encode_cursor(Cursor("when", SortOrder.ASC, shifted, None)))

        assert decoded.value == moment

    def test_the_cursor_is_url_safe_and_compact(self) -> None:
        token = encode_cursor(Cursor("started_at", SortOrder.DESC, T0, ObjectId()))

        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert len(token) < 140
        payload = json.loads(base64.urlsafe_b64decode(token + "==")[TAG_BYTES:])
        assert payload[:2] == ["started_at", "desc"]

    def test_an_unsupported_value_is_a_programming_error(self) -> None:
        with pytest.raises(TypeError, match="list"):
            encode_cursor(Cursor("tags", SortOrder.ASC, [1], None))  # type: ignore[arg-type]

    def test_a_value_too_long_for_a_cursor_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="characters"):
            encode_cursor(Cursor("name", SortOrder.ASC, "𝄞" * 3000, None))

    def test_another_secret_voids_cursors(self) -> None:
        made = encode_cursor(Cursor("rank", SortOrder.ASC, 1, None))
        previous = use_secret("a deployment's own secret")
        try:
            with pytest.raises(InvalidInput):
                decode_cursor(made)
            assert decode_cursor(encode_cursor(Cursor("rank", SortOrder.ASC, 1, None))).value == 1
        finally:
            use_secret(previous)
        assert decode_cursor(made).value == 1


class TestKeysetFilter:
    """The condition "after (value, id)" in each direction, after a value and after null."""

    oid = ObjectId("6650a1b2c3d4e5f6a7b8c9d0")

    def test_ascending_after_a_value(self) -> None:
        assert keyset_filter(sort_spec("f", SortOrder.ASC), value=3, last_id=self.oid) == {
            "f": {"$gte": 3},
            "$or": [{"f": {"$gt": 3}}, {"_id": {"$gt": self.oid}}],
        }

    def test_ascending_after_null(self) -> None:
        assert keyset_filter(sort_spec("f", SortOrder.ASC), value=None, last_id=self.oid) == {
            "$or": [{"f": None, "_id": {"$gt": self.oid}}, {"f": {"$ne": None}}]
        }

    def test_descending_after_a_value(self) -> None:
        assert keyset_filter(sort_spec("f", SortOrder.DESC), value=3, last_id=self.oid) == {
            "$or": [{"f": {"$lt": 3}}, {"f": 3, "_id": {"$lt": self.oid}}, {"f": None}]
        }

    def test_descending_after_null(self) -> None:
        assert keyset_filter(sort_spec("f", SortOrder.DESC), value=None, last_id=self.oid) == {
            "f": None,
            "_id": {"$lt": self.oid},
        }

    def test_by_id_alone(self) -> None:
        sort = sort_spec("id", SortOrder.DESC)

        assert keyset_filter(sort, value=self.oid, last_id=self.oid) == {"_id": {"$lt": self.oid}}


async def test_the_app_signs_cursors_with_its_configured_secret(
    settings: Settings, probes: AsyncCollection[dict[str, Any]]
) -> None:
    default_made = encode_cursor(Cursor("rank", SortOrder.ASC, 1, None))
    configured = settings.model_copy(update={"cursor_secret": SecretStr("s" * 32)})
    app = create_app(configured)

    async with app.router.lifespan_context(app):
        with pytest.raises(InvalidInput):
            decode_cursor(default_made)
        assert decode_cursor(sign(b'["rank","asc",null,null]', "s" * 32)).value is None

    assert decode_cursor(default_made).value == 1


def test_the_secret_comes_from_jbts_cursor_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JBTS_CURSOR_SECRET", raising=False)
    assert Settings().cursor_secret.get_secret_value() == DEFAULT_CURSOR_SECRET

    monkeypatch.setenv("JBTS_CURSOR_SECRET", "k" * 40)
    assert Settings().cursor_secret.get_secret_value() == "k" * 40
    assert "k" * 40 not in repr(Settings())

    monkeypatch.setenv("JBTS_CURSOR_SECRET", "short")
    with pytest.raises(ValueError, match="JBTS_CURSOR_SECRET"):
        Settings()
