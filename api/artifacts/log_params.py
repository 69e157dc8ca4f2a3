"""Query parameters of the log list and its NDJSON export."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from api.artifacts.log_schemas import LogEntryRead
from api.query import AnyOf, CommaList, CursorListParams, Equals, From, SortOrder, To, text
from api.query.filters import Moment, combine
from api.query.listing import selectable
from api.schemas import ObjectIdInput
from documents.artifacts import LogLevel, LogSource

LEVELS = tuple(LogLevel)
"""From the least to the most severe: `min_level` keeps that level and those after it."""
MESSAGE = text.TextIndex(weights={"message": 1})
"""What `q` searches. Log entries have no text index (a text index on millions of lines costs
more than it serves): `q` is always the word match of `api.query.text`'s fallback."""
MAX_Q_LENGTH = 200
NOTHING: dict[str, Any] = {"_id": {"$exists": False}}


def levels_at_least(level: LogLevel) -> list[LogLevel]:
    return list(LEVELS[LEVELS.index(level) :])


class LogSortField(StrEnum):
    TIMESTAMP = "timestamp"


class LogFilters(BaseModel):
    """The filters the list and the export share."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    run_id: Annotated[
        ObjectIdInput | None, Equals("run_id"), Field(description="Lines of this run.")
    ] = None
    execution_id: Annotated[
        ObjectIdInput | None,
        Equals("execution_id"),
        Field(description="Lines of this execution."),
    ] = None
    level: CommaList[LogLevel] | None = Field(
        default=None, description="Any of these levels, e.g. `error,critical`."
    )
    min_level: LogLevel | None = Field(
        default=None,
        description="This level and the more severe ones (debug < info < warning < error < "
        "critical); with `level`, the levels both allow.",
    )
    source: Annotated[
        CommaList[LogSource] | None,
        AnyOf("source"),
        Field(description="Any of these sources, e.g. `browser,network`."),
    ] = None
    from_: Annotated[
        Moment | None,
        From("timestamp"),
        Field(alias="from", description="Logged at or after (ISO 8601)."),
    ] = None
    to: Annotated[
        Moment | None, To("timestamp"), Field(description="Logged at or before (ISO 8601).")
    ] = None
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_Q_LENGTH,
        description="Words in the message: a line matches when any of them appears as a whole "
        "word, ignoring case (no stemming: `time` does not find `timeout`).",
    )

    _ucp: bool = PrivateAttr(default=False)

    def with_word_boundaries(self, *, ucp: bool) -> LogFilters:
        """`ucp`: the server's regex `\\b` knows only ASCII letters unless told (see
        `api.query.text`), as the capability probe found."""
        self._ucp = ucp
        return self

    def levels(self) -> list[LogLevel] | None:
        """The levels asked for (`level` and `min_level` together), None for any."""
        if self.level is None and self.min_level is None:
            return None
        allowed = list(LEVELS) if self.level is None else self.level
        if self.min_level is not None:
            severe = levels_at_least(self.min_level)
            allowed = [level for level in allowed if level in severe]
        return list(dict.fromkeys(allowed))

    def extra_filter(self) -> list[dict[str, Any]]:
        """The conditions the field annotations do not describe: levels and words."""
        extra: list[dict[str, Any]] = []
        levels = self.levels()
        if levels is not None:
            extra.append(
                {
                    "level": levels[0].value
                    if len(levels) == 1
                    else {"$in": [level.value for level in levels]}
                }
            )
        if self.q is not None:
            if text.words(self.q):
                extra.append(text.fallback_filter(self.q, MESSAGE, ucp=self._ucp))
            else:  # only punctuation: no word to look for, nothing matches
                extra.append(NOTHING)
        return extra


class LogListParams(CursorListParams, LogFilters):
    """`GET /artifacts/logs`: the filters, in time order (then `_id`), by page or cursor."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    selectable_fields: ClassVar[frozenset[str]] = selectable(LogEntryRead)

    sort_by: LogSortField = Field(default=LogSortField.TIMESTAMP, description="Sort field.")
    order: SortOrder = Field(default=SortOrder.ASC, description="Sort direction.")

    def mongo_filter(self) -> dict[str, Any]:
        return combine([super().mongo_filter(), *self.extra_filter()])


class LogExportParams(LogFilters):
    """`GET /artifacts/logs/export`: the list's filters; every matching line, in time order."""

    def list_params(self) -> LogListParams:
        """The same filters as list parameters (the export walks the list's order)."""
        params = LogListParams.model_validate(self.model_dump(exclude_none=True))
        params.with_word_boundaries(ucp=self._ucp)
        return params
