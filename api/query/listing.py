"""List parameters and the one function that runs a list query."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from copy import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from beanie import Document
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic.fields import FieldInfo
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from api.database.capabilities import Capabilities
from api.errors import InvalidInput
from api.query import text
from api.query.cursor import (
    CURSOR_LOCATION,
    MAX_CURSOR_LENGTH,
    Cursor,
    decode_cursor,
    encode_cursor,
    keyset_filter,
)
from api.query.filters import AnyOf, CommaList, Equals, FilterSpec, From, To, combine
from api.query.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, CursorPage, Page
from api.query.sorting import SortOrder, SortSpec, ordering_index, sort_spec
from api.query.text import TextIndex

_FILTER_TYPES = (Equals, AnyOf, From, To)
_PAGING_FIELDS = frozenset({"page", "limit", "sort_by", "order", "fields", "q", "cursor"})
SORT_KEY = "_sort_key"
_BAD_VALUE = 2  # the server's code for a hint naming no index, among other bad values


class PageParams(BaseModel):
    """`page`, `limit` and `fields=`: what every paginated endpoint takes.

    Unknown parameters are refused (422), so a misspelt one never silently widens a query.
    A subclass sets `selectable_fields` (what `fields=` may name).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    selectable_fields: ClassVar[frozenset[str]] = frozenset()

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based page number.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
    fields: CommaList[str] | None = Field(
        default=None,
        description="Comma-separated fields to return per item (`id` is always returned).",
        examples=["id,name"],
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Document `fields=` per resource: the names it may take, at least one of them."""
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.selectable_fields:
            return
        names = {"type": "string", "enum": sorted(cls.selectable_fields)}
        documented = copy(cls.__pydantic_fields__["fields"])
        documented.metadata = [
            *documented.metadata,
            WithJsonSchema(
                {
                    "anyOf": [
                        {"type": "array", "items": names, "minItems": 1},
                        {"type": "null"},
                    ],
                    "description": documented.description,
                    "examples": ["id,name"],
                }
            ),
        ]
        cls.__pydantic_fields__ = {**cls.__pydantic_fields__, "fields": documented}
        cls.model_rebuild(force=True)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not any(value):
            raise ValueError("name at least one field, e.g. fields=id,name")
        if not all(value):
            raise ValueError("a field name is empty (two commas in a row?)")
        unknown = sorted(set(value) - cls.selectable_fields)
        if unknown:
            allowed = ", ".join(sorted(cls.selectable_fields))
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; selectable: {allowed}")
        return value

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.limit

    def projection(self) -> dict[str, int] | None:
        if self.fields is None:
            return None
        return {("_id" if name == "id" else name): 1 for name in self.fields}


class ListParams(PageParams):
    """Query parameters of a list endpoint: paging, sorting and typed filters.

    A subclass declares `sort_by: <ResourceSortField> = <default>` and its filters, annotated with
    what they become (`Equals`, `AnyOf`, `From`, `To`); a resource with a text index sets
    `text_index` and declares `q`.
    """

    text_index: ClassVar[TextIndex | None] = None
    # Sort fields stored under another name (e.g. priority sorts by its stored rank).
    sort_paths: ClassVar[Mapping[str, str]] = {}

    order: SortOrder = Field(default=SortOrder.DESC, description="Sort direction.")

    def sort_field(self) -> StrEnum:
        value = getattr(self, "sort_by", None)
        if not isinstance(value, StrEnum):
            raise TypeError(f"{type(self).__name__} must declare a StrEnum `sort_by`")
        return value

    def sort(self) -> SortSpec:
        """The stored field to sort by, then `_id`, in the requested direction."""
        field = self.sort_field().value
        return sort_spec(type(self).sort_paths.get(field, field), self.order)

    def _set_filters(self) -> Iterator[tuple[FilterSpec, Any]]:
        for name, info in type(self).model_fields.items():
            if name in _PAGING_FIELDS:
                continue
            value = getattr(self, name)
            spec = _filter_spec(info)
            if value is not None and spec is not None:
                yield spec, value

    def mongo_filter(self) -> dict[str, Any]:
        """The filter document for the parameters that are set, from their field annotations."""
        return combine([spec.condition(value) for spec, value in self._set_filters()])

    def equality_paths(self) -> frozenset[str]:
        """The fields the filter tests for equality (one value or any of several)."""
        return frozenset(
            spec.path for spec, _ in self._set_filters() if isinstance(spec, (Equals, AnyOf))
        )

    def search_text(self) -> str | None:
        """The `q` of a resource with a text index (declared by subclasses that have one)."""
        value = getattr(self, "q", None)
        return value if isinstance(value, str) and value.strip() else None

    def by_relevance(self) -> bool:
        """Whether the list is ranked by relevance: `q` on a text index, and no `sort_by`."""
        return (
            type(self).text_index is not None
            and self.search_text() is not None
            and "sort_by" not in self.model_fields_set
        )


class CursorListParams(ListParams):
    """List parameters of a large, append-heavy resource: `page`/`limit`, or a keyset `cursor`.

    Pages by `cursor` stay correct while items are inserted (none is repeated or skipped: each
    page starts after the previous page's last item, not at an offset), and cost the same at any
    depth. The response (`CursorPage`) carries `next_cursor`, null at the end.
    """

    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description="Where to continue: the `next_cursor` of the previous page, unchanged "
        "(opaque). Pages by key, so inserts never shift it; the same `sort_by`, `order` and "
        "filters must be sent with it, and `page` left at 1.",
    )

    def position(self) -> Cursor | None:
        """The decoded `cursor`, checked against this request; InvalidInput (422) if it does
        not fit: altered, another sort, with `page` > 1, or on a relevance ranking."""
        if self.cursor is None:
            return None
        if self.page != 1:
            raise InvalidInput.at(
                CURSOR_LOCATION,
                "`cursor` and `page` are two ways to say where a page starts: use one or the other",
            )
        if self.by_relevance():
            raise InvalidInput.at(
                CURSOR_LOCATION,
                "a search ranked by relevance pages by `page`; pass `sort_by` "
                "to page it by `cursor`",
            )
        position = decode_cursor(self.cursor)
        sort_by, order = self.sort_field().value, self.order
        if (position.sort_by, position.order) != (sort_by, order):
            raise InvalidInput.at(
                CURSOR_LOCATION,
                f"this cursor pages sort_by={position.sort_by}&order={position.order}, not "
                f"sort_by={sort_by}&order={order}: send the sort it was made for, or no cursor",
            )
        return position


def _filter_spec(info: FieldInfo) -> FilterSpec | None:
    for meta in info.metadata:
        if isinstance(meta, _FILTER_TYPES):
            return meta
    return None


def selectable(model: type[BaseModel]) -> frozenset[str]:
    """The fields `fields=` may name for items of `model`."""
    return frozenset(model.model_fields)


@dataclass(frozen=True, slots=True)
class RawPage:
    """Raw MongoDB documents of one page, and the total matching; `next_cursor` where the
    parameters are `CursorListParams` and more items may follow."""

    documents: list[dict[str, Any]]
    total: int
    page: int
    limit: int
    next_cursor: str | None = None

    def to_page[T: BaseModel](self, item_model: type[T]) -> Page[T]:
        return Page[T](**self._envelope(item_model))

    def to_cursor_page[T: BaseModel](self, item_model: type[T]) -> CursorPage[T]:
        """The envelope of a `CursorListParams` list: a `Page` with `next_cursor`."""
        return CursorPage[T](**self._envelope(item_model), next_cursor=self.next_cursor)

    def _envelope(self, item_model: type[BaseModel]) -> dict[str, Any]:
        return {
            "items": [item_model.model_validate(doc) for doc in self.documents],
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
            "pages": Page.count_pages(self.total, self.limit),
        }


async def find_page(
    document: type[Document], params: ListParams, *, capabilities: Capabilities | None = None
) -> RawPage:
    """Run the list query `params` describe: two round trips, a `find` and a `count`.

    The `find` filters, sorts by a stored field and `_id`, skips, limits and projects; it names
    (hints) the index that returns the matches in that order (`ordering_index`), so MongoDB never
    sorts a page in memory whatever the plan cache holds. `q` is the exception: matches come from
    the text index (where the deployment has full `$text`, as the `capabilities` probed say) or
    the fallback word match, and without `sort_by` they are ranked by relevance, which is computed.

    The total is the `count` command with the same filter: exact, served by an index on MongoDB,
    and on the embedded engine far cheaper than `count_documents` (an aggregation). Without a
    filter it reads the collection's count from its metadata.

    `CursorListParams` page by key instead (see `_keyset_page`): the page starts after the
    cursor's item, and the answer carries `next_cursor`. A cursor that does not fit the request
    is an InvalidInput (422) before any query runs.
    """
    position = params.position() if isinstance(params, CursorListParams) else None
    match = params.mongo_filter()
    collection = document.get_pymongo_collection()
    projection = params.projection()
    q = params.search_text()
    index = type(params).text_index
    full_text = capabilities is not None and capabilities.full_text_search
    ucp = capabilities is not None and capabilities.ascii_word_boundaries
    if q and index is not None:
        if not text.words(q):  # only punctuation: no word to look for, nothing matches
            return RawPage(documents=[], total=0, page=params.page, limit=params.limit)
        match = combine(
            [
                match,
                text.native_filter(q) if full_text else text.fallback_filter(q, index, ucp=ucp),
            ]
        )
        if params.by_relevance():  # the most relevant first (never by cursor: `position`)
            score = text.native_score() if full_text else text.fallback_score(q, index, ucp=ucp)
            documents = await _by_relevance(collection, match, params, score)
            return await _page(collection, match, documents, params)
    sort = params.sort()
    # `$text` picks the text index itself; the fallback's regexes leave the choice to the sort.
    hint = None if q and full_text else list_index(document, params)
    if isinstance(params, CursorListParams):
        return await _keyset_page(collection, match, params, position, hint)
    documents = await _find(
        collection, match, projection, sort=sort, skip=params.skip, limit=params.limit, hint=hint
    )
    return await _page(collection, match, documents, params)


async def _find(
    collection: AsyncCollection[dict[str, Any]],
    match: Mapping[str, Any],
    projection: Mapping[str, Any] | None,
    *,
    sort: SortSpec,
    skip: int,
    limit: int,
    hint: str | None,
) -> list[dict[str, Any]]:
    """One `find`, hinted; without the hint when the database lacks that index."""

    async def find(hint: str | None) -> list[dict[str, Any]]:
        cursor = collection.find(match, projection, sort=sort, skip=skip, limit=limit)
        return await (cursor.hint(hint) if hint else cursor).to_list()

    try:
        return await find(hint)
    except OperationFailure as exc:
        if not _missing_index(exc):
            raise
        # A database not migrated yet (the service was upgraded first): still answer reads.
        return await find(None)


def _missing_index(exc: OperationFailure) -> bool:
    return exc.code == _BAD_VALUE and "hint" in str(exc)


async def _keyset_page(
    collection: AsyncCollection[dict[str, Any]],
    match: dict[str, Any],
    params: CursorListParams,
    position: Cursor | None,
    hint: str | None,
) -> RawPage:
    """A page of a `CursorListParams` list: after `position` if given (else at `params.page`),
    and the cursor of its last item if more may follow.

    Reads one item more than the page to know whether more follow. The projection also reads
    the sort field and `_id` (what the next cursor holds); a sort field the client did not ask
    for is dropped from the items again. The total counts the whole filtered list, whatever the
    position; `page` is 1 after a cursor (the cursor's page is the first of what is left).
    """
    sort = params.sort()
    path = sort[0][0]
    query = match
    if position is not None:
        keyset = keyset_filter(sort, value=position.value, last_id=position.id)
        # Apart from the filter, never merged into it: both may bound the sort field.
        query = {"$and": [match, keyset]} if match else keyset
    projection = params.projection()
    top = path.split(".", 1)[0]
    # `_id` comes back unless excluded; a sort field under a projected parent comes with it.
    added = projection is not None and path != "_id" and top not in projection
    if projection is not None and added:
        projection = {**projection, path: 1}
    documents = await _find(
        collection,
        query,
        projection,
        sort=sort,
        skip=0 if position is not None else params.skip,
        limit=params.limit + 1,
        hint=hint,
    )
    next_cursor = None
    if len(documents) > params.limit:
        del documents[params.limit :]
        last = documents[-1]
        next_cursor = encode_cursor(
            Cursor(
                sort_by=params.sort_field().value,
                order=params.order,
                value=_value_at(last, path),
                id=last["_id"],
            )
        )
    if added:
        for document in documents:
            document.pop(top, None)
    total = await count(collection, match)
    return RawPage(
        documents=documents,
        total=total,
        page=1 if position is not None else params.page,
        limit=params.limit,
        next_cursor=next_cursor,
    )


def _value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted `path`, None where it is missing (MongoDB sorts both alike)."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def list_index(document: type[Document], params: ListParams) -> str | None:
    """The index `find_page` names for a list (see `ordering_index`), among the document's."""
    indexes: list[IndexModel] = getattr(document.Settings, "indexes", [])
    return ordering_index(indexes, sort=params.sort(), equal=params.equality_paths())


async def _by_relevance(
    collection: AsyncCollection[dict[str, Any]],
    match: dict[str, Any],
    params: ListParams,
    score: dict[str, Any],
) -> list[dict[str, Any]]:
    """A page of `$text` or fallback matches, the most relevant first (`_id` breaks ties)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": match},
        {"$addFields": {SORT_KEY: score}},
        {"$sort": {SORT_KEY: DESCENDING, "_id": DESCENDING}},
        {"$skip": params.skip},
        {"$limit": params.limit},
        {"$project": params.projection() or {SORT_KEY: 0}},
    ]
    documents: list[dict[str, Any]] = await (await collection.aggregate(pipeline)).to_list()
    return documents


async def _page(
    collection: AsyncCollection[dict[str, Any]],
    match: dict[str, Any],
    documents: list[dict[str, Any]],
    params: PageParams,
) -> RawPage:
    total = await count(collection, match)
    return RawPage(documents=documents, total=total, page=params.page, limit=params.limit)


async def count(collection: AsyncCollection[Any], match: Mapping[str, Any]) -> int:
    """How many documents match: the `count` command (see `find_page`)."""
    result = await collection.database.command("count", collection.name, query=dict(match))
    return int(result["n"])


async def find_members_page(
    owner: type[Document],
    owner_id: Any,
    members: type[Document],
    *,
    field: str,
    params: PageParams,
    order: SortOrder,
) -> RawPage | None:
    """A page of the documents an owner lists by id in the array `field`, in the array's order.

    None when the owner does not exist. Two round trips, whatever the sizes: the array's length
    (the total), then one aggregation on the owner that slices the page out of the array and looks
    each id up by `_id`, so the cost is the page's, not the array's or the collection's. An id
    whose document is gone is left out of the page (and still counted: the owner's writes remove
    ids before documents, so none is expected).
    """
    owners = owner.get_pymongo_collection()
    sized = [{"$match": {"_id": owner_id}}, {"$project": {"total": {"$size": f"${field}"}}}]
    found = await (await owners.aggregate(sized)).to_list()
    if not found:
        return None
    total = int(found[0]["total"])
    if order is SortOrder.ASC:
        start, end = params.skip, min(params.skip + params.limit, total)
    else:  # from the end of the array
        start, end = max(total - params.skip - params.limit, 0), total - params.skip
    documents: list[dict[str, Any]] = []
    if end > start:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"_id": owner_id}},
            {"$project": {"_id": 0, "id": {"$slice": [f"${field}", start, end - start]}}},
            {"$unwind": {"path": "$id", "includeArrayIndex": "position"}},
            {
                "$lookup": {
                    "from": members.get_pymongo_collection().name,
                    "localField": "id",
                    "foreignField": "_id",
                    "as": "member",
                }
            },
            {"$unwind": "$member"},
            {"$sort": {"position": ASCENDING if order is SortOrder.ASC else DESCENDING}},
            {"$replaceRoot": {"newRoot": "$member"}},
        ]
        projection = params.projection()
        if projection is not None:
            pipeline.append({"$project": projection})
        documents = await (await owners.aggregate(pipeline)).to_list()
    return RawPage(documents=documents, total=total, page=params.page, limit=params.limit)
