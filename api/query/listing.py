"""List parameters and the one function that runs a list query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from beanie import Document
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from api.query.filters import AnyOf, CommaList, Equals, FilterSpec, From, To, combine
from api.query.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, Page
from api.query.sorting import SortOrder, sort_spec

_FILTER_TYPES = (Equals, AnyOf, From, To)
_PAGING_FIELDS = frozenset({"page", "limit", "sort_by", "order", "fields"})


class ListParams(BaseModel):
    """Query parameters every list endpoint takes. Subclasses add typed filters and `sort_by`.

    Unknown parameters are refused (422), so a misspelt filter never silently widens a query.
    A subclass sets `selectable_fields` (what `fields=` may name) and declares
    `sort_by: <ResourceSortField> = <default>`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    selectable_fields: ClassVar[frozenset[str]] = frozenset()

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based page number.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
    order: SortOrder = Field(default=SortOrder.DESC, description="Sort direction.")
    fields: CommaList[str] | None = Field(
        default=None,
        description="Comma-separated fields to return per item (`id` is always returned).",
        examples=["id,name"],
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("name at least one field, e.g. fields=id,name")
        unknown = sorted(set(value) - cls.selectable_fields)
        if unknown:
            allowed = ", ".join(sorted(cls.selectable_fields))
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; selectable: {allowed}")
        return value

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

    def projection(self) -> dict[str, int] | None:
        if self.fields is None:
            return None
        return {("_id" if name == "id" else name): 1 for name in self.fields}


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
    extra_filter: Mapping[str, Any] | None = None,
) -> RawPage:
    """Run the list query `params` describe: filter, count, sort, skip/limit, projection."""
    query = params.mongo_filter()
    if extra_filter:
        query = {"$and": [query, dict(extra_filter)]} if query else dict(extra_filter)
    collection = document.get_pymongo_collection()
    cursor = (
        collection.find(query, params.projection())
        .sort(sort_spec(params.sort_field(), params.order))
        .skip((params.page - 1) * params.limit)
        .limit(params.limit)
    )
    documents = await cursor.to_list()
    total = await collection.count_documents(query)
    return RawPage(documents=documents, total=total, page=params.page, limit=params.limit)
