"""Typed filters: a parameter model field says which MongoDB condition it becomes.

    browser: Annotated[CommaList[BrowserName] | None, AnyOf("browser")] = None
    created_from: Annotated[datetime | None, From("created_at")] = None

Values are always validated Python scalars (enums, bools, datetimes, strings) placed as operands
of operators chosen here, never documents from the client, so no request can inject an operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, WithJsonSchema


def _split_commas(value: Any) -> Any:
    """`"a,b"` and `["a,b", "c"]` both become `["a", "b", "c"]`.

    An empty value (`tags=` or `a,,b`) is kept, and refused by the item's own validation: an
    empty filter value is a mistake to report, not a filter to drop silently.
    """
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list):
        return value
    parts: list[Any] = []
    for item in raw:
        if isinstance(item, str):
            parts.extend(part.strip(" \t") for part in item.split(","))
        else:
            parts.append(item)
    return parts


T = TypeVar("T")

# A classic generic alias, not a PEP 695 `type` alias: FastAPI must see the `list` through it to
# collect repeated query parameters.
CommaList = Annotated[list[T], BeforeValidator(_split_commas)]
"""A query parameter taking several values, comma-separated or repeated."""

ListText = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^,]*[^,\s][^,]*$")]
"""A free-text value of a `CommaList`: no comma (which separates values) and not blank (values
are stripped, and an empty one is refused), as its schema says."""


def _operand(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True, slots=True)
class Equals:
    """`field == value`."""

    path: str

    def condition(self, value: Any) -> dict[str, Any]:
        return {self.path: _operand(value)}


@dataclass(frozen=True, slots=True)
class AnyOf:
    """The field equals any of the values; for an array field, it has any of them."""

    path: str

    def condition(self, value: list[Any]) -> dict[str, Any]:
        values = [_operand(item) for item in value]
        if len(values) == 1:
            # The same match as `$in` of one value; an equality is what the embedded engine
            # looks up in a single-field index instead of reading every document.
            return {self.path: values[0]}
        return {self.path: {"$in": values}}


@dataclass(frozen=True, slots=True)
class From:
    """`field >= value` (inclusive lower bound of a range)."""

    path: str

    def condition(self, value: datetime) -> dict[str, Any]:
        return {self.path: {"$gte": value}}


@dataclass(frozen=True, slots=True)
class To:
    """`field <= value` (inclusive upper bound of a range). A null field is before nothing:
    MongoDB compares a date only with dates, but the embedded engine counts null as less than
    any date, so `$ne: null` says it (a no-op on MongoDB; e.g. a never-started execution)."""

    path: str

    def condition(self, value: datetime) -> dict[str, Any]:
        return {self.path: {"$lte": value, "$ne": None}}


type FilterSpec = Equals | AnyOf | From | To


def combine(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """AND the conditions together; two bounds on one field share it (`$gte` and `$lte`)."""
    merged: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for condition in conditions:
        for path, clause in condition.items():
            existing = merged.get(path)
            if existing is None:
                merged[path] = clause
            elif isinstance(existing, dict) and isinstance(clause, dict):
                merged[path] = {**existing, **clause}
            else:
                extra.append({path: clause})
    if extra:
        return {"$and": [merged, *extra]}
    return merged


_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})"
_ISO_8601 = re.compile(rf"^{_DATE}({_TIME})?$")


def _iso_8601(value: Any) -> Any:
    """A date-time with its offset, or a date (midnight UTC); never a number, which pydantic
    would read as a Unix time."""
    if isinstance(value, str) and not _ISO_8601.match(value):
        raise ValueError(
            "expected an ISO 8601 date-time with an offset (2026-01-31T09:00:00Z) or a date "
            "(2026-01-31)"
        )
    return value


Moment = Annotated[
    datetime,
    BeforeValidator(_iso_8601),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
    ),
]
"""A point in time in a query: an RFC 3339 date-time, or a date meaning its midnight UTC."""

# The date-range filters most resources share: `created_from=...&created_to=...`.
CreatedFrom = Annotated[
    Moment | None, From("created_at"), Field(description="Created at or after (ISO 8601).")
]
CreatedTo = Annotated[
    Moment | None, To("created_at"), Field(description="Created at or before (ISO 8601).")
]
UpdatedFrom = Annotated[
    Moment | None, From("updated_at"), Field(description="Updated at or after (ISO 8601).")
]
UpdatedTo = Annotated[
    Moment | None, To("updated_at"), Field(description="Updated at or before (ISO 8601).")
]
