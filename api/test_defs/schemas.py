"""Request and response bodies of test cases and their steps."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.limits import MAX_LIST_BYTES, check_list_size, mebibytes
from api.query.bulk import MAX_BULK_ITEMS
from api.query.fields import partial_model
from api.schemas import (
    Flag,
    InputModel,
    JsonInteger,
    Name,
    ObjectIdInput,
    ObjectIdStr,
    ReadModel,
    Tag,
    UpdateModel,
    unique_in_order,
)
from documents.test_defs import CaseStatus, Priority, StepAction, StepDefinition, TestStep

MAX_STEPS = 500
MAX_TIMEOUT_MS = 600_000

Tags = Annotated[
    list[Tag],
    Field(max_length=50, examples=[["smoke", "login"]]),
    AfterValidator(unique_in_order),
]
Text = Annotated[str, Field(max_length=10_000)]
TimeoutMs = Annotated[int, Field(ge=0, le=MAX_TIMEOUT_MS), JsonInteger]
AutomationKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="How imported results find this case, e.g. a JUnit `classname.name`. "
        "Unique when present.",
        examples=["com.example.LoginTest.testValidLogin"],
    ),
]
_URL: TypeAdapter[Any] = TypeAdapter(Annotated[str, Field(pattern=r"^https?://\S+$")])
TargetUrl = Annotated[str, Field(max_length=2000), AfterValidator(_URL.validate_python)]


class StepInput(InputModel):
    """A step as a client writes it; the service gives it its `id` and `order`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "type",
                    "selector": "#username",
                    "value": "alice",
                    "description": "Enter the user name",
                }
            ]
        }
    )

    action: StepAction
    selector: str | None = Field(default=None, max_length=2000)
    value: str | None = Field(default=None, max_length=10_000)
    description: str | None = Field(default=None, max_length=2000)
    expected: str | None = Field(default=None, max_length=2000)
    timeout_ms: TimeoutMs = 30_000
    optional: Flag = False
    screenshot_on_failure: Flag = True


def steps_fit(stored_as: type[StepDefinition]) -> AfterValidator:
    """A validator: the steps, stored as `stored_as` (id, order), take at most `MAX_LIST_BYTES`."""

    def check(steps: list[StepInput]) -> list[StepInput]:
        stored = [
            stored_as(order=position, **step.model_dump()).model_dump()
            for position, step in enumerate(steps, start=1)
        ]
        check_list_size("the steps", "steps", stored)
        return steps

    return AfterValidator(check)


STEPS_SIZE = (
    f"At most {MAX_STEPS} steps, together at most {mebibytes(MAX_LIST_BYTES)} as stored "
    "(a step's text counts up to 4 bytes per character)."
)


class StepCreate(StepInput):
    # At most MAX_STEPS: no case holds more steps, so no larger position means anything.
    position: Annotated[int, Field(ge=1, le=MAX_STEPS), JsonInteger] | None = Field(
        default=None,
        description="1-based position to insert the step at; the steps from there move down. "
        "Omitted (or past the end): appended.",
    )


class StepUpdate(UpdateModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {"selector", "value", "description", "expected"}
    )

    action: StepAction | None = None
    selector: str | None = Field(default=None, max_length=2000)
    value: str | None = Field(default=None, max_length=10_000)
    description: str | None = Field(default=None, max_length=2000)
    expected: str | None = Field(default=None, max_length=2000)
    timeout_ms: TimeoutMs | None = None
    optional: Flag | None = None
    screenshot_on_failure: Flag | None = None


class StepOrder(InputModel):
    """The full list of the case's step ids, in the new order."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"step_ids": ["3f9a1c2b7d4e", "a1b2c3d4e5f6"]}]}
    )

    step_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=MAX_STEPS)

    @field_validator("step_ids")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        repeated = sorted({step_id for step_id in value if value.count(step_id) > 1})
        if repeated:
            raise ValueError(f"step ids repeated: {', '.join(repeated)}")
        return value


class StepDefinitionRead(BaseModel):
    """What a step does; `order` is 1-based. (Template steps are exactly this.)"""

    order: int
    action: StepAction
    selector: str | None
    value: str | None
    description: str | None
    expected: str | None
    timeout_ms: int
    optional: bool
    screenshot_on_failure: bool


class _StepIdRead(BaseModel):
    id: str


class StepRead(StepDefinitionRead, _StepIdRead):
    """A step of a test case. `id` is stable across edits and reordering; `order` is 1-based."""


class TestCaseCreate(InputModel):
    __test__ = False  # not a pytest test class

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Valid login",
                    "description": "A registered user signs in with the right password",
                    "status": "active",
                    "priority": "high",
                    "tags": ["smoke", "login"],
                    "target_url": "https://staging.example.com/login",
                    "owner": "alice",
                    "automation_key": "com.example.LoginTest.testValidLogin",
                    "steps": [
                        {"action": "navigate", "value": "https://staging.example.com/login"},
                        {"action": "type", "selector": "#username", "value": "alice"},
                        {"action": "click", "selector": "button[type=submit]"},
                        {"action": "assert_url", "value": "/dashboard"},
                    ],
                }
            ]
        }
    )

    name: Name
    description: Text | None = None
    status: CaseStatus = CaseStatus.DRAFT
    priority: Priority = Priority.MEDIUM
    tags: Tags = Field(default_factory=list)
    preconditions: Text | None = None
    expected_result: Text | None = None
    target_url: TargetUrl | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    automation_key: AutomationKey | None = None
    browser_configuration_id: ObjectIdInput | None = None
    environment_id: ObjectIdInput | None = None
    steps: Annotated[list[StepInput], steps_fit(TestStep)] = Field(
        default_factory=list, max_length=MAX_STEPS, description=STEPS_SIZE
    )


class TestCaseUpdate(UpdateModel):
    """The fields to change. Steps change through `/tests/{id}/steps`."""

    __test__ = False  # not a pytest test class

    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "description",
            "preconditions",
            "expected_result",
            "target_url",
            "owner",
            "automation_key",
            "browser_configuration_id",
            "environment_id",
        }
    )

    name: Name | None = None
    description: Text | None = None
    status: CaseStatus | None = None
    priority: Priority | None = None
    tags: Tags | None = None
    preconditions: Text | None = None
    expected_result: Text | None = None
    target_url: TargetUrl | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    automation_key: AutomationKey | None = None
    browser_configuration_id: ObjectIdInput | None = None
    environment_id: ObjectIdInput | None = None


class TestCaseRead(ReadModel):
    """A test case with its ordered steps. `version` grows by one with every change."""

    __test__ = False  # not a pytest test class

    name: str
    description: str | None
    status: CaseStatus
    priority: Priority
    tags: list[str]
    preconditions: str | None
    expected_result: str | None
    target_url: str | None
    owner: str | None
    automation_key: str | None
    template_id: ObjectIdStr | None
    browser_configuration_id: ObjectIdStr | None
    environment_id: ObjectIdStr | None
    version: int
    steps: list[StepRead]


TestCaseItem = partial_model(TestCaseRead)
"""A test case in a list: the fields `fields=` selects, all of them by default."""


class CloneRequest(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Valid login (Firefox)"}]})

    name: Name | None = Field(
        default=None,
        description="The copy's name; default: the original's plus \" (copy)\" (the original's "
        "shortened to keep it within 200 characters).",
    )


class BulkOp(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class BulkOperation(InputModel):
    """One operation. `data` is a test case body (`create`) or the fields to change (`update`);
    it and `id` are checked per operation, so one bad operation fails alone."""

    op: BulkOp
    id: str | None = Field(default=None, description="The case to update or delete.")
    data: dict[str, Any] | None = None


class BulkRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operations": [
                        {"op": "create", "data": {"name": "Logout", "tags": ["smoke"]}},
                        {
                            "op": "update",
                            "id": "6650f1c2a7b4e3d2c1b0a998",
                            "data": {"status": "active"},
                        },
                        {"op": "delete", "id": "6650f1c2a7b4e3d2c1b0a999"},
                    ]
                }
            ]
        }
    )

    operations: list[BulkOperation] = Field(
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description=f"1 to {MAX_BULK_ITEMS} operations, written unordered: in one command on "
        f"MongoDB, in batches of {EMBEDDED_WRITE_BATCH} on the embedded engine. Each case may "
        "be named by one operation only: a later operation naming the same id fails (422 at "
        "its `id`).",
    )
