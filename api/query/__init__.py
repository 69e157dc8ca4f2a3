"""The shared list layer: typed filters, sorting, field selection, pagination and bulk writes.

A list endpoint declares a `ListParams` subclass (its filters, sort enum and selectable fields),
calls `find_page` from its service and returns `Page.of(...)`.
"""

from api.query.bulk import BulkOutcome, BulkResponse, BulkResult, BulkStatus, run_bulk
from api.query.filters import AnyOf, CommaList, Equals, From, To
from api.query.listing import ListParams, PageParams, RawPage, find_page
from api.query.pagination import Page
from api.query.sorting import SortOrder

__all__ = [
    "AnyOf",
    "BulkOutcome",
    "BulkResponse",
    "BulkResult",
    "BulkStatus",
    "CommaList",
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
