"""The page envelope every list endpoint answers with."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_PAGE = 10_000_000
"""Keeps the skip (`(page - 1) * limit`) within a 32-bit integer, which every engine accepts."""


class Page[T](BaseModel):
    """One page of a list: `items`, the `total` matching, and where this page is."""

    items: list[T]
    total: int = Field(ge=0, description="How many items match the filters, over all pages.")
    page: int = Field(ge=1)
    limit: int = Field(ge=1, le=MAX_LIMIT)
    pages: int = Field(ge=0, description="How many pages there are at this limit.")

    @staticmethod
    def count_pages(total: int, limit: int) -> int:
        return math.ceil(total / limit) if total else 0


class CursorPage[T](Page[T]):
    """A page of a list that also pages by cursor (keyset): `page` is 1 when a cursor was sent,
    and `total` and `pages` count the whole list, not what is left after the cursor."""

    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null at the end."
    )
