"""What every persisted document shares."""

from datetime import UTC, datetime
from typing import ClassVar

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel


def utcnow() -> datetime:
    """Now, in UTC, truncated to the millisecond BSON dates keep.

    Truncating here means a value the API returns after a write is the same value a later read
    returns.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """`moment`, read as UTC when it has no offset (a date in a query, a naive BSON date)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class TimestampedDocument(Document):
    """A document with `created_at` and `updated_at` (BSON dates, UTC)."""

    created_at: datetime = Field(default_factory=utcnow)
    # A new document was last changed when it was made: the same instant, not a second reading of
    # the clock (which can fall in the next millisecond).
    updated_at: datetime = Field(default_factory=lambda fields: fields["created_at"])


class VersionedDocument(TimestampedDocument):
    """A document whose integer counter grows by one on every change: its `ETag`.

    A subclass declares the counter field (`version: int = Field(default=1, ge=1)`) and, where that
    name is taken, names another in `version_field`.
    """

    version_field: ClassVar[str] = "version"

    @property
    def current_version(self) -> int:
        value: int = getattr(self, self.version_field)
        return value


def sort_indexes(*paths: str, equal: str | None = None) -> list[IndexModel]:
    """Per sortable field, the index a list sorted by it walks: `[equal,] field, _id`.

    Lists sort by the field, then `_id` (a deterministic order for equal values), so only an index
    ending in both gives the order without sorting in memory; read backwards, it serves either
    direction. `equal` puts a field the lists often filter on by equality first (ESR: equality,
    sort, range). Named `sort_<field>`, or `<equal>_<field>`.
    """
    return [
        IndexModel(
            [*([(equal, ASCENDING)] if equal else []), (path, ASCENDING), ("_id", ASCENDING)],
            name=f"{equal or 'sort'}_{path}",
        )
        for path in paths
    ]
