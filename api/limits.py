"""The sizes that keep every stored document far below MongoDB's 16 MiB limit.

Most of a document is bounded by its schema (string lengths, list lengths). Strings are bounded
in characters, and a character takes up to 4 bytes in BSON, so a few lists could still outgrow the
limit by their counts alone (500 steps of 16,000 characters are 32 MB). Those lists (a test case's
or template's steps, an environment's variables, an execution's step results) are also bounded in
stored bytes: `MAX_LIST_BYTES`, checked before every write that sets or grows them.
tests/test_document_sizes.py builds the largest document of every kind the bounds allow and checks
it fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bson

MONGODB_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""MongoDB refuses a larger document (BSON), on insert and as the result of an update."""

MAX_LIST_BYTES = 4 * 1024 * 1024
"""The most a document's steps or variables may take, as stored (BSON).

A quarter of MongoDB's limit: an execution stores a snapshot of its case's steps beside its own
step results, and a response is bigger than what it stores."""


def mebibytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def list_size(field: str, items: Sequence[Mapping[str, Any]]) -> int:
    """The BSON size of `{field: items}`: what `stored_list_size(field)` measures on the server."""
    return len(bson.encode({field: list(items)}))


def stored_list_size(field: str) -> dict[str, Any]:
    """An aggregation expression: the BSON size of `{field: <the stored list>}`."""
    return {"$bsonSize": {field: f"${field}"}}


def list_too_large(what: str, size: int) -> str:
    """Why a list is refused, naming the limit."""
    return (
        f"{what} would take {size:,} bytes as stored; at most {MAX_LIST_BYTES:,} "
        f"({mebibytes(MAX_LIST_BYTES)}) are allowed"
    )


def check_list_size(what: str, field: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Raise `ValueError` (a validation error) when the list is over `MAX_LIST_BYTES`."""
    size = list_size(field, items)
    if size > MAX_LIST_BYTES:
        raise ValueError(list_too_large(what, size))
