"""Single-document reads and writes shared by every service.

Each raises the API's own errors: `NotFound` for an unknown id, `Conflict` for a duplicate of a
unique key (named in the message), `PreconditionFailed` for a stale `If-Match`, so services and
routers never see PyMongo exceptions.

Writes of a versioned document are conditional: the condition (`If-Match`, a guard such as "only
while the steps are these") is part of the update's filter, every change adds one to the
document's counter, and when the filter matches nothing one read says why (`why_unchanged`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beanie import Document, PydanticObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from api.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, ProblemError
from documents.base import VersionedDocument, utcnow

type IfMatch = frozenset[int] | None
"""The versions an `If-Match` header accepts; `None` when the request sets no condition."""


class DuplicateKey(Conflict):
    """A write refused by a unique index; `keys` are the fields of that index."""

    def __init__(self, detail: str, *, keys: frozenset[str]) -> None:
        super().__init__(detail)
        self.keys = keys


def duplicate_conflict(exc: DuplicateKeyError, *, label: str) -> DuplicateKey:
    details = exc.details or {}
    keys = frozenset(details.get("keyPattern") or details.get("keyValue") or ())
    key_value: Mapping[str, Any] = details.get("keyValue") or {}
    if key_value:
        described = ", ".join(f"{key} {value!r}" for key, value in key_value.items())
        return DuplicateKey(f"a {label} with {described} already exists", keys=keys)
    return DuplicateKey(f"a {label} with the same unique key already exists", keys=keys)


async def get_or_404[D: Document](document: type[D], id: PydanticObjectId, *, label: str) -> D:
    found = await document.get(id)
    if found is None:
        raise NotFound(f"{label} {id} does not exist")
    return found


async def insert[D: Document](
    doc: D, *, label: str, session: AsyncClientSession | None = None
) -> D:
    try:
        await doc.insert(session=session)
    except DuplicateKeyError as exc:
        raise duplicate_conflict(exc, label=label) from exc
    return doc


def conditional_filter(
    document: type[VersionedDocument], id: PydanticObjectId, if_match: IfMatch
) -> dict[str, Any]:
    """The filter of a write to one document, only at a version `If-Match` accepts."""
    query: dict[str, Any] = {"_id": id}
    if if_match is not None:
        query[document.version_field] = {"$in": sorted(if_match)}
    return query


def bump(
    document: type[VersionedDocument], changes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The update of every change: `$set` the changes and `updated_at`, add one to the counter."""
    return {
        "$set": {**(changes or {}), "updated_at": utcnow()},
        "$inc": {document.version_field: 1},
    }


def _stale(label: str, id: PydanticObjectId, field: str, version: int) -> PreconditionFailed:
    return PreconditionFailed(
        f'{label} {id} is at {field} {version} (ETag "{version}"), not the one If-Match names: '
        "read it again and retry"
    )


def check_if_match(found: VersionedDocument, if_match: IfMatch, *, label: str) -> None:
    """412 unless `If-Match` accepts the document's version (for a request that writes nothing)."""
    if if_match is not None and found.current_version not in if_match:
        assert found.id is not None
        raise _stale(label, found.id, found.version_field, found.current_version)


async def why_unchanged(
    document: type[VersionedDocument], id: PydanticObjectId, if_match: IfMatch, *, label: str
) -> ProblemError | None:
    """Why a conditional write matched nothing: unknown id (404) or stale version (412).

    `None` when the document exists at an accepted version: the write's own guard failed.
    """
    field = document.version_field
    current = await document.get_pymongo_collection().find_one({"_id": id}, {field: 1})
    if current is None:
        return NotFound(f"{label} {id} does not exist")
    version = current.get(field, 1)
    if if_match is not None and version not in if_match:
        return _stale(label, id, field, version)
    return None


async def conditional_update[D: VersionedDocument](
    document: type[D],
    id: PydanticObjectId,
    update: Mapping[str, Any],
    *,
    label: str,
    if_match: IfMatch = None,
    guard: Mapping[str, Any] | None = None,
) -> D | None:
    """Apply `update` (operators) plus `bump` atomically, while `If-Match` and `guard` hold.

    Returns the document after the update, or `None` when it exists at an accepted version but
    `guard` does not hold (the caller says what that means). Raises 404, 412 or 409 (duplicate).
    """
    touched = bump(document)
    operators: dict[str, Any] = {**update, "$inc": touched["$inc"]}
    operators["$set"] = {**update.get("$set", {}), **touched["$set"]}
    try:
        raw = await document.get_pymongo_collection().find_one_and_update(
            {**conditional_filter(document, id, if_match), **(guard or {})},
            operators,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError as exc:
        raise duplicate_conflict(exc, label=label) from exc
    if raw is None:
        reason = await why_unchanged(document, id, if_match, label=label)
        if reason is not None:
            raise reason
        return None
    updated: D = document.model_validate(raw)
    return updated


async def update_fields[D: VersionedDocument](
    document: type[D],
    id: PydanticObjectId,
    changes: Mapping[str, Any],
    *,
    label: str,
    if_match: IfMatch = None,
    guard: Mapping[str, Any] | None = None,
) -> D:
    """`$set` the changes (and `updated_at`, counter +1) atomically; return the document after.

    No changes means no write: the document is returned as it is, its version unchanged. A
    `guard` that no longer holds is a 409: the document changed while the request was checked.
    """
    if not changes:
        found = await get_or_404(document, id, label=label)
        check_if_match(found, if_match, label=label)
        return found
    updated = await conditional_update(
        document, id, {"$set": dict(changes)}, label=label, if_match=if_match, guard=guard
    )
    if updated is None:
        raise Conflict(
            f"{label} {id} changed while this update was being checked: read it and retry"
        )
    return updated


async def delete_or_404(
    document: type[VersionedDocument],
    id: PydanticObjectId,
    *,
    label: str,
    if_match: IfMatch = None,
) -> None:
    query = conditional_filter(document, id, if_match)
    result = await document.get_pymongo_collection().delete_one(query)
    if result.deleted_count == 0:
        raise await why_unchanged(document, id, if_match, label=label) or NotFound(
            f"{label} {id} does not exist"
        )


class KnownIds:
    """Which referenced documents exist, each looked up once: a bulk request names the same few
    configurations on many items, and checks them in as many round trips as there are distinct ids.
    """

    def __init__(self) -> None:
        self._exists: dict[tuple[str, PydanticObjectId], bool] = {}

    async def exists(self, document: type[Document], id: PydanticObjectId) -> bool:
        key = (document.get_collection_name(), id)
        if key not in self._exists:
            found = await document.get_pymongo_collection().find_one({"_id": id}, {"_id": 1})
            self._exists[key] = found is not None
        return self._exists[key]


async def ensure_exists(
    document: type[Document],
    id: PydanticObjectId | None,
    *,
    location: str,
    label: str,
    known: KnownIds | None = None,
) -> None:
    """A reference in a request body must name an existing document (422 otherwise)."""
    if id is None:
        return
    if not await (known or KnownIds()).exists(document, id):
        raise InvalidInput.at(location, f"{label} {id} does not exist")
