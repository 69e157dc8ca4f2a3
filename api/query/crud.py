"""Single-document reads and writes shared by every service.

Each raises the API's own errors: `NotFound` for an unknown id, `Conflict` for a duplicate of a
unique key (named in the message), so services and routers never see PyMongo exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beanie import Document, PydanticObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from api.errors import Conflict, InvalidInput, NotFound
from documents.base import utcnow


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


async def update_fields[D: Document](
    document: type[D],
    id: PydanticObjectId,
    changes: Mapping[str, Any],
    *,
    label: str,
    session: AsyncClientSession | None = None,
) -> D:
    """`$set` the changes (and `updated_at`) atomically; return the document after the update.

    No changes means no write: the document is returned as it is, `updated_at` untouched.
    """
    if not changes:
        return await get_or_404(document, id, label=label)
    collection = document.get_pymongo_collection()
    try:
        raw = await collection.find_one_and_update(
            {"_id": id},
            {"$set": {**changes, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
    except DuplicateKeyError as exc:
        raise duplicate_conflict(exc, label=label) from exc
    if raw is None:
        raise NotFound(f"{label} {id} does not exist")
    updated: D = document.model_validate(raw)
    return updated


async def delete_or_404(document: type[Document], id: PydanticObjectId, *, label: str) -> None:
    result = await document.get_pymongo_collection().delete_one({"_id": id})
    if result.deleted_count == 0:
        raise NotFound(f"{label} {id} does not exist")


async def ensure_exists(
    document: type[Document], id: PydanticObjectId | None, *, location: str, label: str
) -> None:
    """A reference in a request body must name an existing document (422 otherwise)."""
    if id is None:
        return
    found = await document.get_pymongo_collection().find_one({"_id": id}, {"_id": 1})
    if found is None:
        raise InvalidInput.at(location, f"{label} {id} does not exist")
