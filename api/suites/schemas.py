"""Request and response bodies of test suites."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, ConfigDict, Field

from api.schemas import (
    InputModel,
    Name,
    ObjectIdInput,
    ObjectIdStr,
    ReadModel,
    Tag,
    UpdateModel,
    unique_in_order,
)

MAX_TAGS = 100
MAX_CASES_PER_CALL = 1000
MAX_CASES_PER_SUITE = 10_000
"""A suite's `test_case_ids` stay far below MongoDB's document limit (10,000 ids: 180 kB), and
a run of the suite (an execution per case) stays a size one request can create."""


Tags = Annotated[
    list[Tag],
    Field(max_length=MAX_TAGS, description="Labels; repeats are dropped, the order is kept."),
    AfterValidator(unique_in_order),
]
Description = Annotated[str, Field(max_length=5000)]
CaseIds = Annotated[list[ObjectIdInput], AfterValidator(unique_in_order)]
"""Test case ids; repeats are dropped, each kept where it first appears."""


class SuiteCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Checkout smoke",
                    "description": "The paths every release must keep working",
                    "tags": ["smoke", "checkout"],
                    "test_case_ids": ["6650f1c2a7b4e3d2c1b0a998", "6650f1c2a7b4e3d2c1b0a999"],
                    "browser_configuration_id": "6650f1c2a7b4e3d2c1b0a990",
                    "environment_id": None,
                }
            ]
        }
    )

    name: Name
    description: Description | None = None
    tags: Tags = Field(default_factory=list)
    test_case_ids: CaseIds = Field(
        default_factory=list,
        max_length=MAX_CASES_PER_CALL,
        description="The suite's first test cases, in order; each must exist. Repeats are "
        "dropped. Later changes go through `POST`/`DELETE /suites/{id}/tests`.",
    )
    browser_configuration_id: ObjectIdInput | None = Field(
        default=None, description="Default browser configuration of the suite's runs."
    )
    environment_id: ObjectIdInput | None = Field(
        default=None, description="Default test environment of the suite's runs."
    )


class SuiteUpdate(UpdateModel):
    """The suite fields to change. Membership changes through `/suites/{id}/tests`."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {"description", "browser_configuration_id", "environment_id"}
    )

    name: Name | None = None
    description: Description | None = None
    tags: Tags | None = None
    browser_configuration_id: ObjectIdInput | None = None
    environment_id: ObjectIdInput | None = None


class SuiteTestIds(InputModel):
    """Test cases to add to or remove from a suite."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"test_case_ids": ["6650f1c2a7b4e3d2c1b0a998", "6650f1c2a7b4e3d2c1b0a999"]}
            ]
        }
    )

    test_case_ids: CaseIds = Field(
        min_length=1,
        max_length=MAX_CASES_PER_CALL,
        description="Test case ids, in the order to add them; repeats are dropped. A suite "
        f"holds at most {MAX_CASES_PER_SUITE:,} test cases.",
    )


class SuiteRead(ReadModel):
    """A test suite; `test_case_ids` lists its test cases in suite order."""

    name: str
    description: str | None
    tags: list[str]
    test_case_ids: list[ObjectIdStr]
    browser_configuration_id: ObjectIdStr | None
    environment_id: ObjectIdStr | None
    version: int = Field(
        ge=1,
        description="Grows by one with every change, membership included; the `ETag` is this "
        'number in quotes, e.g. `"3"`.',
    )
