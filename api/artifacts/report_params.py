"""List parameters of reports."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from api.artifacts.report_schemas import ReportRead
from api.query import Equals, ListParams
from api.query.listing import selectable
from api.schemas import ObjectIdInput
from documents.artifacts import ReportFormat


class ReportSortField(StrEnum):
    GENERATED_AT = "generated_at"


class ReportListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(ReportRead)

    sort_by: ReportSortField = Field(
        default=ReportSortField.GENERATED_AT, description="Sort field."
    )
    run_id: Annotated[
        ObjectIdInput | None, Equals("run_id"), Field(description="Reports of this run.")
    ] = None
    format: Annotated[
        ReportFormat | None, Equals("format"), Field(description="Reports in this format.")
    ] = None


MAX_SUITE_RUNS = 50
"""The most runs a suite report covers (each run may hold thousands of executions)."""


class SuiteReportParams(BaseModel):
    """`GET /suites/{id}/report`: the format, and how many of the suite's latest runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: ReportFormat = Field(default=ReportFormat.JSON, description="The report's format.")
    runs: int = Field(
        default=20, ge=1, le=MAX_SUITE_RUNS, description="The suite's latest this many runs."
    )
