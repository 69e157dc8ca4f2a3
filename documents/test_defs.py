"""Test definitions: test cases with their embedded steps, suites, templates."""

import secrets
from enum import StrEnum
from typing import Any, ClassVar

from beanie import PydanticObjectId
from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel

from documents.base import VersionedDocument, sort_indexes


class CaseStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    ARCHIVED = "archived"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


PRIORITY_RANK: tuple[Priority, ...] = (
    Priority.LOW,
    Priority.MEDIUM,
    Priority.HIGH,
    Priority.CRITICAL,
)
"""Priorities from least to most urgent: `priority_rank` is the index in this tuple."""


def priority_rank(priority: Priority | str) -> int:
    """The stored sort key of a priority: 0 (low) to 3 (critical)."""
    return PRIORITY_RANK.index(Priority(priority))


class StepAction(StrEnum):
    NAVIGATE = "navigate"
    CLICK = "click"
    TYPE = "type"
    SELECT = "select"
    HOVER = "hover"
    PRESS = "press"
    WAIT = "wait"
    ASSERT_TEXT = "assert_text"
    ASSERT_VISIBLE = "assert_visible"
    ASSERT_URL = "assert_url"
    SCREENSHOT = "screenshot"
    EXECUTE_SCRIPT = "execute_script"


DEFAULT_STEP_TIMEOUT_MS = 30_000


def new_step_id() -> str:
    """A short random id for a step, stable for the life of the step (12 hex characters)."""
    return secrets.token_hex(6)


class StepDefinition(BaseModel):
    """What a step does; shared by test case steps and template steps."""

    order: int = Field(default=0, ge=0)
    action: StepAction
    selector: str | None = None
    value: str | None = None
    description: str | None = None
    expected: str | None = None
    timeout_ms: int = Field(default=DEFAULT_STEP_TIMEOUT_MS, ge=0)
    optional: bool = False
    screenshot_on_failure: bool = True


class StepIdentity(BaseModel):
    """A step's stable id: it survives edits and reordering, so results can point at it.

    A plain `id` string: only top-level documents map `id` to `_id`.
    """

    id: str = Field(default_factory=new_step_id, min_length=1)


class TestStep(StepDefinition, StepIdentity):
    """A step of a test case (`StepIdentity` last, so `id` comes first in the stored object)."""

    __test__ = False  # not a pytest test class


CASE_SORT_PATHS = ("created_at", "updated_at", "name", "priority_rank", "status")
"""The stored fields the test case list sorts by (`priority` sorts by `priority_rank`)."""


class TestCase(VersionedDocument):
    __test__ = False  # not a pytest test class

    name: str
    description: str | None = None
    status: CaseStatus = CaseStatus.DRAFT
    priority: Priority = Priority.MEDIUM
    tags: list[str] = Field(default_factory=list)
    preconditions: str | None = None
    expected_result: str | None = None
    target_url: str | None = None
    owner: str | None = None
    # How imported results (JUnit, CI reporters) find their case; unique when present.
    automation_key: str | None = None
    template_id: PydanticObjectId | None = None
    browser_configuration_id: PydanticObjectId | None = None
    environment_id: PydanticObjectId | None = None
    version: int = Field(default=1, ge=1)
    steps: list[TestStep] = Field(default_factory=list)
    # Derived from `priority` on every write (m0005): sorting by priority is then an index scan,
    # where a rank computed per query sorts every match in memory.
    priority_rank: int = Field(default=priority_rank(Priority.MEDIUM), ge=0, le=3)

    @model_validator(mode="before")
    @classmethod
    def _rank_priority(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("priority") is not None:
            return {**data, "priority_rank": priority_rank(data["priority"])}
        return data

    class Settings:
        name = "test_cases"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tags", ASCENDING)], name="tags"),
            IndexModel(
                [("name", TEXT), ("description", TEXT), ("tags", TEXT)],
                name="text_search",
                weights={"name": 10, "tags": 5, "description": 1},
            ),
            # Partial rather than sparse: Beanie writes unset optionals as null, and a sparse
            # index would still hold (and refuse a second) null.
            IndexModel(
                [("automation_key", ASCENDING)],
                name="automation_key_unique",
                unique=True,
                partialFilterExpression={"automation_key": {"$type": "string"}},
            ),
            IndexModel([("owner", ASCENDING), ("updated_at", DESCENDING)], name="owner_updated"),
            IndexModel([("template_id", ASCENDING)], name="template_id"),
            # m0003: the reference filters, and the check before a configuration is deleted.
            IndexModel([("browser_configuration_id", ASCENDING)], name="browser_configuration_id"),
            IndexModel([("environment_id", ASCENDING)], name="environment_id"),
            # m0005: every sort of the list, alone and after the status filter.
            *sort_indexes(*CASE_SORT_PATHS),
            *sort_indexes(*CASE_SORT_PATHS, equal="status"),
        ]


class TestSuite(VersionedDocument):
    __test__ = False  # not a pytest test class

    name: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    # The many-to-many between suites and cases lives here, in order.
    test_case_ids: list[PydanticObjectId] = Field(default_factory=list)
    browser_configuration_id: PydanticObjectId | None = None
    environment_id: PydanticObjectId | None = None
    version: int = Field(default=1, ge=1)

    class Settings:
        name = "test_suites"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            # Multikey: "which suites contain case X".
            IndexModel([("test_case_ids", ASCENDING)], name="test_case_ids"),
            IndexModel([("tags", ASCENDING)], name="tags"),
            # m0003: the reference filters, and the check before a configuration is deleted.
            IndexModel([("browser_configuration_id", ASCENDING)], name="browser_configuration_id"),
            IndexModel([("environment_id", ASCENDING)], name="environment_id"),
            IndexModel(
                [("name", TEXT), ("description", TEXT)],
                name="text_search",
                weights={"name": 10, "description": 1},
            ),
            # m0005: every sort of the list.
            *sort_indexes("name", "created_at", "updated_at"),
        ]


class TemplateParameter(BaseModel):
    """A `{{name}}` placeholder of a template; `default` None means the caller must supply it."""

    name: str = Field(min_length=1)
    description: str | None = None
    default: str | None = None


class TemplateStep(StepDefinition):
    """A template step: `selector`, `value`, `description` and `expected` may hold placeholders.

    It has no id: instantiating a template gives each new test step its own.
    """


class TestTemplate(VersionedDocument):
    __test__ = False  # not a pytest test class

    name: str
    description: str | None = None
    category: str | None = None
    parameters: list[TemplateParameter] = Field(default_factory=list)
    steps: list[TemplateStep] = Field(default_factory=list)
    version: int = Field(default=1, ge=1)

    class Settings:
        name = "test_templates"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel([("category", ASCENDING), ("name", ASCENDING)], name="category_name"),
            # m0005: every sort of the list.
            *sort_indexes("name", "created_at", "updated_at"),
        ]
