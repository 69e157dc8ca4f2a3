"""List parameters and the one function that runs a list query."""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from beanie import Document
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic.fields import FieldInfo
from pymongo import ASCENDING, DESCENDING

from api.query import text
from api.query.filters import AnyOf, CommaList, Equals, FilterSpec, From, To, combine
from api.query.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, Page
from api.query.sorting import SortOrder, sort_spec
from api.query.text import TextIndex

_FILTER_TYPES = (Equals, AnyOf, From, To)
_PAGING_FIELDS = frozenset({"page", "limit", "sort_by", "order", "fields", "q"})
SORT_KEY = "_sort_key"


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
    # Sort fields whose order is not the stored value's (e.g. priority by rank, not by name).
    sort_keys: ClassVar[Mapping[str, Any]] = {}

    order: SortOrder = Field(default=SortOrder.DESC, description="Sort direction.")

    def sort_field(self) -> StrEnum:
        value = getattr(self, "sort_by", None)
        if not isinstance(value, StrEnum):
            raise TypeError(f"{type(self).__name__} must declare a StrEnum `sort_by`")
        return value

    def mongo_filter(self) -> dict[str, Any]:
        """The filter document for the parameters that are set, from their field annotations."""
        conditions: list[dict[str, Any]] = []
        for name, info in type(self).model_fields.items():
            if name in _PAGING_FIELDS:
                continue
            value = getattr(self, name)
            spec = _filter_spec(info)
            if value is None or spec is None:
                continue
            conditions.append(spec.condition(value))
        return combine(conditions)

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
    document: type[Document],
    params: ListParams,
    *,
    full_text: bool = False,
    extra_filter: Mapping[str, Any] | None = None,
    order_by: Any | None = None,
) -> RawPage:
    """Run the list query `params` describe: filter, count, sort, skip/limit, projection.

    One aggregation serves every list: `$match`, a computed sort key where one is needed (text
    relevance, a resource's `sort_keys`, or `order_by`, an expression such as a suite's order),
    `$sort` with `_id` as tie-breaker, `$skip`/`$limit`, `$project`. `full_text` says whether the
    deployment has full `$text` (the capability probe); without it `q` takes the fallback.
    """
    match = params.mongo_filter()
    if extra_filter:
        match = combine([match, dict(extra_filter)]) if match else dict(extra_filter)
    q = params.search_text()
    index = type(params).text_index
    sort_key: Any | None = order_by
    direction = ASCENDING if params.order is SortOrder.ASC else DESCENDING
    if q and index is not None and not text.words(q):
        match = {"_id": {"$in": []}}  # only punctuation, no word to look for: nothing matches
    elif q and index is not None:
        match = combine(
            [match, text.native_filter(q) if full_text else text.fallback_filter(q, index)]
        )
        if "sort_by" not in params.model_fields_set and order_by is None:
            sort_key = text.native_score() if full_text else text.fallback_score(q, index)
            direction = DESCENDING  # most relevant first
    if sort_key is None:
        sort_key = type(params).sort_keys.get(params.sort_field().value)
    pipeline: list[dict[str, Any]] = [{"$match": match}]
    if sort_key is not None:
        pipeline.append({"$addFields": {SORT_KEY: sort_key}})
        sort = {SORT_KEY: direction, "_id": direction}
    else:
        sort = dict(sort_spec(params.sort_field(), params.order))
    pipeline += [
        {"$sort": sort},
        {"$skip": params.skip},
        {"$limit": params.limit},
        {"$project": params.projection() or {SORT_KEY: 0}},
    ]
    collection = document.get_pymongo_collection()
    documents = await (await collection.aggregate(pipeline)).to_list()
    total = await collection.count_documents(match)
    return RawPage(documents=documents, total=total, page=params.page, limit=params.limit)
