"""The shared list layer: typed filters, sorting, field selection, pagination and bulk writes.

A list endpoint declares a `ListParams` subclass (its filters, sort enum and selectable fields),
calls `find_page` from its service and answers `raw.to_page(...)`. A large, append-heavy resource
declares a `CursorListParams` subclass instead and answers `raw.to_cursor_page(...)`: the same,
plus keyset paging by an opaque `cursor` (`api.query.cursor`).
"""

from api.query.bulk import BulkOutcome, BulkResponse, BulkResult, BulkStatus, run_bulk
from api.query.filters import AnyOf, CommaList, Equals, From, To
from api.query.listing import CursorListParams, ListParams, PageParams, RawPage, find_page
from api.query.pagination import CursorPage, Page
from api.query.sorting import SortOrder

__all__ = [
    "AnyOf",
    "BulkOutcome",
    "BulkResponse",
    "BulkResult",
    "BulkStatus",
    "CommaList",
    "CursorListParams",
    "CursorPage",
    "Equals",
    "From",
    "ListParams",
    "Page",
    "PageParams",
    "RawPage",
    "SortOrder",
    "To",
    "find_page",
    "run_bulk",
]
