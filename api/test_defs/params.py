"""List parameters of test cases and of a case's steps."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from api.configurations.params import BrowserConfigurationFilter, EnvironmentFilter
from api.query import AnyOf, CommaList, ListParams, PageParams
from api.query.filters import CreatedFrom, CreatedTo, ListText, UpdatedFrom, UpdatedTo
from api.query.listing import selectable
from api.query.text import TextIndex
from api.schemas import Tag
from api.test_defs.schemas import StepRead, TestCaseRead
from documents.test_defs import CaseStatus, Priority


class TestCaseSortField(StrEnum):
    __test__ = False  # not a pytest test class

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    PRIORITY = "priority"
    STATUS = "status"


SearchQuery = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        description="Full-text search over name, description and tags (any of the words). "
        "Without `sort_by`, the most relevant come first.",
        examples=["login"],
    ),
]


class TestCaseListParams(ListParams):
    __test__ = False  # not a pytest test class

    selectable_fields: ClassVar[frozenset[str]] = selectable(TestCaseRead)
    text_index: ClassVar[TextIndex | None] = TextIndex(
        weights={"name": 10, "tags": 5, "description": 1}, array_fields=frozenset({"tags"})
    )
    # Priority sorts by its stored rank (low < medium < high < critical), not alphabetically.
    sort_paths: ClassVar[dict[str, str]] = {TestCaseSortField.PRIORITY: "priority_rank"}

    sort_by: TestCaseSortField = Field(
        default=TestCaseSortField.CREATED_AT,
        description="Sort field (`priority` by rank); with `q` and no `sort_by`, the most "
        "relevant come first.",
    )
    q: SearchQuery = None
    status: Annotated[
        CommaList[CaseStatus] | None,
        AnyOf("status"),
        Field(description="Any of these statuses, e.g. `active,draft`."),
    ] = None
    priority: Annotated[
        CommaList[Priority] | None,
        AnyOf("priority"),
        Field(description="Any of these priorities, e.g. `high,critical`."),
    ] = None
    tags: Annotated[
        CommaList[Tag] | None,
        AnyOf("tags"),
        Field(description="Cases having any of these tags, e.g. `smoke,regression`."),
    ] = None
    owner: Annotated[
        CommaList[ListText] | None,
        AnyOf("owner"),
        Field(description="Cases owned by any of these owners."),
    ] = None
    browser_configuration_id: BrowserConfigurationFilter = None
    environment_id: EnvironmentFilter = None
    created_from: CreatedFrom = None
    created_to: CreatedTo = None
    updated_from: UpdatedFrom = None
    updated_to: UpdatedTo = None


class StepListParams(PageParams):
    """A case's steps, in order."""

    selectable_fields: ClassVar[frozenset[str]] = selectable(StepRead)
