"""List parameters of browser configurations and test environments."""

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from api.configurations.schemas import BrowserRead, EnvironmentRead, Locale
from api.query import AnyOf, CommaList, Equals, ListParams
from api.query.listing import selectable
from api.schemas import ObjectIdInput
from documents.configurations import BrowserName

# Filters of the resources that reference a configuration or an environment (cases, suites):
# how a client finds what keeps one from being deleted.
BrowserConfigurationFilter = Annotated[
    ObjectIdInput | None,
    Equals("browser_configuration_id"),
    Field(description="Those that use this browser configuration by default."),
]
EnvironmentFilter = Annotated[
    ObjectIdInput | None,
    Equals("environment_id"),
    Field(description="Those that use this test environment by default."),
]


class BrowserSortField(StrEnum):
    NAME = "name"
    BROWSER = "browser"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class BrowserListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(BrowserRead)

    sort_by: BrowserSortField = BrowserSortField.CREATED_AT
    browser: Annotated[
        CommaList[BrowserName] | None,
        AnyOf("browser"),
        Field(description="Any of these browsers (comma-separated or repeated)."),
    ] = None
    headless: Annotated[bool | None, Equals("headless"), Field(description="Headless or not.")] = (
        None
    )
    is_default: Annotated[
        bool | None, Equals("is_default"), Field(description="Only the default (or the others).")
    ] = None
    locale: Annotated[
        CommaList[Locale] | None,
        AnyOf("locale"),
        Field(description="Any of these locales, e.g. `en-US,de-DE`."),
    ] = None


class EnvironmentSortField(StrEnum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class EnvironmentListParams(ListParams):
    selectable_fields: ClassVar[frozenset[str]] = selectable(EnvironmentRead)

    sort_by: EnvironmentSortField = EnvironmentSortField.CREATED_AT
    is_active: Annotated[
        bool | None, Equals("is_active"), Field(description="Active environments only, or not.")
    ] = None


class DeleteParams(BaseModel):
    """The one query parameter of a configuration or environment delete (others are a 422)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    force: bool = Field(
        default=False,
        description="Also when test cases, suites or runs still reference it: their reference is "
        "set to null first (runs keep their snapshot of it).",
    )
