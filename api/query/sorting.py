"""Sorting: each resource's sortable fields are a StrEnum (so OpenAPI lists them)."""

from __future__ import annotations

from enum import StrEnum

from pymongo import ASCENDING, DESCENDING


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


def sort_spec(sort_by: StrEnum, order: SortOrder) -> list[tuple[str, int]]:
    """The MongoDB sort: the chosen field, then `_id` so equal values page deterministically."""
    direction = ASCENDING if order is SortOrder.ASC else DESCENDING
    path = "_id" if sort_by.value == "id" else sort_by.value
    spec = [(path, direction)]
    if path != "_id":
        spec.append(("_id", direction))
    return spec
