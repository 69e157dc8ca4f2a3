"""Sorting: each resource's sortable fields are a StrEnum (so OpenAPI lists them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum

from pymongo import ASCENDING, DESCENDING, IndexModel

type SortSpec = list[tuple[str, int]]


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


def sort_spec(path: str, order: SortOrder) -> SortSpec:
    """The MongoDB sort: the stored field, then `_id` so equal values page deterministically."""
    direction = ASCENDING if order is SortOrder.ASC else DESCENDING
    path = "_id" if path == "id" else path
    spec = [(path, direction)]
    if path != "_id":
        spec.append(("_id", direction))
    return spec


def ordering_index(
    indexes: Sequence[IndexModel], *, sort: SortSpec, equal: Collection[str] = ()
) -> str | None:
    """The index that returns the matches already in `sort` order, or None if none does.

    Such an index has zero or more of the fields the query tests for equality, then the sort's
    fields in the sort's directions (or all reversed: an index reads backwards). Of those, the one
    with the most equality fields first narrows the scan most (ESR: equality, sort, range).
    """
    best: str | None = None
    best_prefix = -1
    for index in indexes:
        keys = list(index.document["key"].items())
        prefix, tail = keys[: len(keys) - len(sort)], keys[len(keys) - len(sort) :]
        if len(tail) != len(sort) or any(path not in equal for path, _ in prefix):
            continue
        if [path for path, _ in tail] != [path for path, _ in sort]:
            continue
        if not all(isinstance(direction, int) for _, direction in tail):
            continue  # a text or hashed index gives no order
        pairs = zip(tail, sort, strict=True)
        relations = {direction * wanted for (_, direction), (_, wanted) in pairs}
        if len(relations) == 1 and len(prefix) > best_prefix:
            best, best_prefix = index.document["name"], len(prefix)
    return best
