"""List parameters of test suites and of a suite's test cases."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from api.configurations.params import BrowserConfigurationFilter, EnvironmentFilter
from api.query import AnyOf, CommaList, ListParams, SortOrder
from api.query.filters import CreatedFrom, CreatedTo
from api.query.listing import selectable
from api.query.text import TextIndex
from api.schemas import Tag
from api.suites.schemas import SuiteRead
from api.test_defs.schemas import TestCaseRead


class SuiteSortField(StrEnum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class SuiteListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(SuiteRead)
    # As migration m0001 creates the suites' text index.
    text_index: ClassVar[TextIndex | None] = TextIndex(weights={"name": 10, "description": 1})

    sort_by: SuiteSortField = Field(
        default=SuiteSortField.CREATED_AT,
        description="Sort field; with `q` and no `sort_by`, the most relevant come first.",
    )
    q: str | None = Field(
        default=None,
        max_length=500,
        description="Words to find in the name or description (any word, whole words, any case).",
        examples=["checkout smoke"],
    )
    tags: Annotated[
        CommaList[Tag] | None,
        AnyOf("tags"),
        Field(description="Suites with any of these tags (comma-separated or repeated)."),
    ] = None
    browser_configuration_id: BrowserConfigurationFilter = None
    environment_id: EnvironmentFilter = None
    created_from: CreatedFrom = None
    created_to: CreatedTo = None


class SuiteTestSortField(StrEnum):
    SUITE_ORDER = "suite_order"


class SuiteTestListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(TestCaseRead)

    sort_by: SuiteTestSortField = Field(
        default=SuiteTestSortField.SUITE_ORDER,
        description="The suite's own order is the only one (`order=desc` reverses it).",
    )
    order: SortOrder = Field(default=SortOrder.ASC, description="Sort direction.")
