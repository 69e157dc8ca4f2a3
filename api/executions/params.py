"""List parameters of runs and executions."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from api.executions.schemas import (
    MAX_ATTEMPT,
    Branch,
    BuildUrl,
    Commit,
    ExecutionRead,
    HistoryItem,
    Person,
    RunRead,
)
from api.query import AnyOf, CommaList, CursorListParams, Equals, From, PageParams, To
from api.query.filters import CreatedFrom, CreatedTo, Moment
from api.query.listing import selectable
from api.schemas import Name, ObjectIdInput
from documents.executions import ExecutionStatus, RunStatus, RunTrigger


class RunSortField(StrEnum):
    CREATED_AT = "created_at"
    STARTED_AT = "started_at"
    DURATION_MS = "duration_ms"


class RunListParams(CursorListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(RunRead)

    sort_by: RunSortField = Field(default=RunSortField.CREATED_AT, description="Sort field.")
    status: Annotated[
        CommaList[RunStatus] | None,
        AnyOf("status"),
        Field(description="Any of these statuses, e.g. `running,queued`."),
    ] = None
    suite_id: Annotated[
        ObjectIdInput | None, Equals("suite_id"), Field(description="Runs of this suite.")
    ] = None
    trigger: Annotated[
        CommaList[RunTrigger] | None,
        AnyOf("trigger"),
        Field(description="Any of these triggers, e.g. `ci,schedule`."),
    ] = None
    branch: Annotated[
        Branch | None, Equals("branch"), Field(description="Runs of this branch.")
    ] = None
    commit: Annotated[
        Commit | None, Equals("commit"), Field(description="Runs of this commit.")
    ] = None
    environment_id: Annotated[
        ObjectIdInput | None,
        Equals("environment_id"),
        Field(description="Runs in this test environment."),
    ] = None
    browser_configuration_id: Annotated[
        ObjectIdInput | None,
        Equals("browser_configuration_id"),
        Field(description="Runs with this browser configuration."),
    ] = None
    created_from: CreatedFrom = None
    created_to: CreatedTo = None

    def projection(self) -> dict[str, int] | None:
        """With `counters` chosen, also `pending`: a run with changes pending is served with
        counters counted from its executions (`tracking.observed_documents`)."""
        projection = super().projection()
        if projection is not None and "counters" in projection:
            projection["pending"] = 1
        return projection


class ExecutionSortField(StrEnum):
    CREATED_AT = "created_at"
    STARTED_AT = "started_at"
    DURATION_MS = "duration_ms"


class ExecutionListParams(CursorListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(ExecutionRead)

    sort_by: ExecutionSortField = Field(
        default=ExecutionSortField.CREATED_AT, description="Sort field."
    )
    run_id: Annotated[
        ObjectIdInput | None, Equals("run_id"), Field(description="Executions of this run.")
    ] = None
    test_case_id: Annotated[
        ObjectIdInput | None,
        Equals("test_case_id"),
        Field(description="Executions of this test case."),
    ] = None
    status: Annotated[
        CommaList[ExecutionStatus] | None,
        AnyOf("status"),
        Field(description="Any of these statuses, e.g. `failed,error`."),
    ] = None
    attempt: Annotated[
        int | None,
        Equals("attempt"),
        Field(ge=1, le=MAX_ATTEMPT, description="Only this attempt (1: first tries)."),
    ] = None
    signature: Annotated[
        str | None,
        Equals("error.signature"),
        Field(min_length=1, max_length=200, description="Failures with this error signature."),
    ] = None
    started_from: Annotated[
        Moment | None, From("started_at"), Field(description="Started at or after (ISO 8601).")
    ] = None
    started_to: Annotated[
        Moment | None, To("started_at"), Field(description="Started at or before (ISO 8601).")
    ] = None


class ImportParams(BaseModel):
    """What an imported run is called and where it comes from (query parameters); unknown
    parameters are refused (422)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = Field(
        default=None,
        description="The run's name. Default: the report's name, else `JUnit import`.",
    )
    suite_id: ObjectIdInput | None = Field(
        default=None, description="The suite the run belongs to (its reports count it)."
    )
    branch: Branch | None = None
    commit: Commit | None = None
    build_url: BuildUrl | None = None
    requested_by: Person | None = None


class HistoryParams(PageParams):
    """`GET /tests/{id}/history`: a page of the case's executions, newest first, filtered."""

    selectable_fields: ClassVar[frozenset[str]] = selectable(HistoryItem)

    status: CommaList[ExecutionStatus] | None = Field(
        default=None, description="Any of these statuses, e.g. `failed,error`."
    )
    attempt: int | None = Field(
        default=None, ge=1, le=MAX_ATTEMPT, description="Only this attempt (1: first tries)."
    )
    started_from: Moment | None = Field(default=None, description="Started at or after (ISO 8601).")
    started_to: Moment | None = Field(default=None, description="Started at or before (ISO 8601).")
