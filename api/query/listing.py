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
from api.query import text
from api.query.filters import AnyOf, CommaList, Equals, FilterSpec, From, To, combine
from api.query.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, Page
from api.query.sorting import SortOrder, SortSpec, ordering_index, sort_spec
from api.query.text import TextIndex

_FILTER_TYPES = (Equals, AnyOf, From, To)
_PAGING_FIELDS = frozenset({"page", "limit", "sort_by", "order", "fields", "q"})
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
    """Raw MongoDB documents of one page, and the total matching."""

    documents: list[dict[str, Any]]
    total: int
    page: int
    limit: int

    def to_page[T: BaseModel](self, item_model: type[T]) -> Page[T]:
        return Page[T](
            items=[item_model.model_validate(doc) for doc in self.documents],
            total=self.total,
            page=self.page,
            limit=self.limit,
            pages=Page.count_pages(self.total, self.limit),
        )


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
    """
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
        if "sort_by" not in params.model_fields_set:  # the most relevant first
            score = text.native_score() if full_text else text.fallback_score(q, index, ucp=ucp)
            documents = await _by_relevance(collection, match, params, score)
            return await _page(collection, match, documents, params)
    sort = params.sort()
    # `$text` picks the text index itself; the fallback's regexes leave the choice to the sort.
    hint = None if q and full_text else list_index(document, params)

    async def page(hint: str | None) -> list[dict[str, Any]]:
        cursor = collection.find(match, projection, sort=sort, skip=params.skip, limit=params.limit)
        return await (cursor.hint(hint) if hint else cursor).to_list()

    try:
        documents = await page(hint)
    except OperationFailure as exc:
        if not _missing_index(exc):
            raise
        # A database not migrated yet (the service was upgraded first): still answer reads.
        documents = await page(None)
    return await _page(collection, match, documents, params)


def _missing_index(exc: OperationFailure) -> bool:
    return exc.code == _BAD_VALUE and "hint" in str(exc)


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
