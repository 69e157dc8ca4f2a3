"""The initial schema: every collection of the domain model with its validator and indexes."""

from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from migrations._schema import (
    Schema,
    array,
    boolean,
    date,
    drop_collection,
    ensure_collection,
    enum,
    free_object,
    integer,
    number,
    obj,
    object_id,
    string,
    timestamped,
)

VERSION = 1
NAME = "initial schema"


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    validator: dict[str, Any]
    indexes: list[IndexModel] = field(default_factory=list)


BROWSERS = ("chromium", "chrome", "firefox", "webkit", "edge")
CASE_STATUSES = ("draft", "active", "deprecated", "archived")
PRIORITIES = ("low", "medium", "high", "critical")
STEP_ACTIONS = (
    "navigate",
    "click",
    "type",
    "select",
    "hover",
    "press",
    "wait",
    "assert_text",
    "assert_visible",
    "assert_url",
    "screenshot",
    "execute_script",
)
RUN_TRIGGERS = ("manual", "ci", "schedule", "api", "import")
RUN_STATUSES = ("queued", "running", "passed", "failed", "error", "cancelled")
EXECUTION_STATUSES = ("queued", "running", "passed", "failed", "error", "skipped", "cancelled")
STEP_STATUSES = ("pending", "running", "passed", "failed", "skipped", "error")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_SOURCES = ("browser", "network", "driver", "runner")
REPORT_FORMATS = ("json", "junit", "html")
LOG_RETENTION_SECONDS = 30 * 24 * 60 * 60


def _viewport() -> Schema:
    return obj(
        {"width": integer(minimum=1), "height": integer(minimum=1)},
        required=["width", "height"],
    )


def _step_properties() -> dict[str, Schema]:
    """What a test case step and a template step share."""
    return {
        "order": integer(minimum=0),
        "action": enum(*STEP_ACTIONS),
        "selector": string(nullable=True),
        "value": string(nullable=True),
        "description": string(nullable=True),
        "expected": string(nullable=True),
        "timeout_ms": integer(minimum=0),
        "optional": boolean(),
        "screenshot_on_failure": boolean(),
    }


_STEP_REQUIRED = ["order", "action", "timeout_ms", "optional", "screenshot_on_failure"]


def _test_step() -> Schema:
    return obj({"id": string(min_length=1), **_step_properties()}, required=["id", *_STEP_REQUIRED])


def _error(*, nullable: bool) -> Schema:
    return obj(
        {
            "message": string(),
            "type": string(nullable=True),
            "stack": string(nullable=True),
            "signature": string(nullable=True),
        },
        required=["message"],
        nullable=nullable,
    )


_COUNTER_NAMES = ("queued", "running", "passed", "failed", "error", "skipped", "cancelled", "total")


def _counters() -> dict[str, Schema]:
    return {name: integer(minimum=0) for name in _COUNTER_NAMES}


COLLECTIONS: list[CollectionSpec] = [
    CollectionSpec(
        name="browser_configurations",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "browser": enum(*BROWSERS),
                "version": string(nullable=True),
                "headless": boolean(),
                "viewport": obj(
                    {
                        "width": {"bsonType": ["int", "long"], "minimum": 1},
                        "height": {"bsonType": ["int", "long"], "minimum": 1},
                    },
                    required=["width", "height"],
                ),
                "device_scale_factor": number(),
                "user_agent": string(nullable=True),
                "locale": string(),
                "timezone": string(),
                "args": array(string()),
                "is_default": boolean(),
            },
            required=["name", "browser", "headless", "viewport", "is_default"],
        ),
        indexes=[
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel(
                [("is_default", ASCENDING)],
                name="single_default",
                unique=True,
                partialFilterExpression={"is_default": True},
            ),
            IndexModel(
                [("browser", ASCENDING), ("created_at", DESCENDING)], name="browser_created"
            ),
        ],
    ),
    CollectionSpec(
        name="test_environments",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "base_url": string(min_length=1),
                "description": string(nullable=True),
                "is_active": boolean(),
                "variables": array(
                    obj(
                        {"name": string(min_length=1), "value": string(), "secret": boolean()},
                        required=["name", "value", "secret"],
                    )
                ),
            },
            required=["name", "base_url", "is_active", "variables"],
        ),
        indexes=[
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel(
                [("is_active", ASCENDING), ("created_at", DESCENDING)], name="active_created"
            ),
        ],
    ),
    CollectionSpec(
        name="test_cases",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "description": string(nullable=True),
                "status": enum(*CASE_STATUSES),
                "priority": enum(*PRIORITIES),
                "tags": array(string()),
                "preconditions": string(nullable=True),
                "expected_result": string(nullable=True),
                "target_url": string(nullable=True),
                "owner": string(nullable=True),
                "automation_key": string(nullable=True),
                "template_id": object_id(nullable=True),
                "browser_configuration_id": object_id(nullable=True),
                "environment_id": object_id(nullable=True),
                "version": integer(minimum=1),
                "steps": array(_test_step()),
            },
            required=["name", "status", "priority", "tags", "version", "steps"],
        ),
        indexes=[
            IndexModel(
                [("status", ASCENDING), ("priority", ASCENDING), ("updated_at", DESCENDING)],
                name="status_priority_updated",
            ),
            IndexModel([("tags", ASCENDING)], name="tags"),
            IndexModel(
                [("name", TEXT), ("description", TEXT), ("tags", TEXT)],
                name="text_search",
                weights={"name": 10, "tags": 5, "description": 1},
            ),
            IndexModel(
                [("automation_key", ASCENDING)],
                name="automation_key_unique",
                unique=True,
                partialFilterExpression={"automation_key": {"$type": "string"}},
            ),
            IndexModel([("owner", ASCENDING), ("updated_at", DESCENDING)], name="owner_updated"),
            IndexModel([("template_id", ASCENDING)], name="template_id"),
            IndexModel([("updated_at", DESCENDING)], name="updated_at"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
        ],
    ),
    CollectionSpec(
        name="test_suites",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "description": string(nullable=True),
                "tags": array(string()),
                "test_case_ids": array(object_id()),
                "browser_configuration_id": object_id(nullable=True),
                "environment_id": object_id(nullable=True),
            },
            required=["name", "tags", "test_case_ids"],
        ),
        indexes=[
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel([("test_case_ids", ASCENDING)], name="test_case_ids"),
            IndexModel([("tags", ASCENDING)], name="tags"),
            IndexModel(
                [("name", TEXT), ("description", TEXT)],
                name="text_search",
                weights={"name": 10, "description": 1},
            ),
            IndexModel([("updated_at", DESCENDING)], name="updated_at"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
        ],
    ),
    CollectionSpec(
        name="test_templates",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "description": string(nullable=True),
                "category": string(nullable=True),
                "parameters": array(
                    obj(
                        {
                            "name": string(min_length=1),
                            "description": string(nullable=True),
                            "default": string(nullable=True),
                        },
                        required=["name"],
                    )
                ),
                "steps": array(obj(_step_properties(), required=_STEP_REQUIRED)),
            },
            required=["name", "parameters", "steps"],
        ),
        indexes=[
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel([("category", ASCENDING), ("name", ASCENDING)], name="category_name"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
        ],
    ),
    CollectionSpec(
        name="test_runs",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "suite_id": object_id(nullable=True),
                "trigger": enum(*RUN_TRIGGERS),
                "status": enum(*RUN_STATUSES),
                "browser_configuration_id": object_id(nullable=True),
                "environment_id": object_id(nullable=True),
                "browser_configuration": obj(
                    {
                        "name": string(),
                        "browser": enum(*BROWSERS),
                        "version": string(nullable=True),
                        "headless": boolean(),
                        "viewport": _viewport(),
                        "device_scale_factor": number(),
                        "user_agent": string(nullable=True),
                        "locale": string(),
                        "timezone": string(),
                        "args": array(string()),
                    },
                    required=["name", "browser"],
                    nullable=True,
                ),
                "environment": obj(
                    {
                        "name": string(),
                        "base_url": string(),
                        "variables": array(
                            obj(
                                {
                                    "name": string(min_length=1),
                                    "value": string(nullable=True),
                                    "secret": boolean(),
                                },
                                required=["name", "secret"],
                            )
                        ),
                    },
                    required=["name", "base_url"],
                    nullable=True,
                ),
                "started_at": date(nullable=True),
                "finished_at": date(nullable=True),
                "duration_ms": integer(minimum=0, nullable=True),
                "counters": obj(_counters(), required=list(_COUNTER_NAMES)),
                "build_url": string(nullable=True),
                "commit": string(nullable=True),
                "branch": string(nullable=True),
                "requested_by": string(nullable=True),
                "version": integer(minimum=1),
            },
            required=["name", "trigger", "status", "counters", "version"],
        ),
        indexes=[
            IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
            IndexModel([("suite_id", ASCENDING), ("created_at", DESCENDING)], name="suite_created"),
            IndexModel(
                [("environment_id", ASCENDING), ("created_at", DESCENDING)],
                name="environment_created",
            ),
            IndexModel(
                [("browser_configuration_id", ASCENDING), ("created_at", DESCENDING)],
                name="browser_configuration_created",
            ),
            IndexModel([("branch", ASCENDING), ("created_at", DESCENDING)], name="branch_created"),
            IndexModel([("commit", ASCENDING)], name="commit"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
        ],
    ),
    CollectionSpec(
        name="test_executions",
        validator=timestamped(
            {
                "run_id": object_id(),
                "test_case_id": object_id(),
                "test_case": obj(
                    {
                        "version": integer(minimum=1),
                        "name": string(),
                        "steps": array(_test_step()),
                    },
                    required=["version", "name", "steps"],
                ),
                "attempt": integer(minimum=1),
                "status": enum(*EXECUTION_STATUSES),
                "started_at": date(nullable=True),
                "finished_at": date(nullable=True),
                "duration_ms": integer(minimum=0, nullable=True),
                "error": _error(nullable=True),
                "worker": string(nullable=True),
                "steps": array(
                    obj(
                        {
                            "step_id": string(min_length=1),
                            "order": integer(minimum=0),
                            "action": enum(*STEP_ACTIONS),
                            "status": enum(*STEP_STATUSES),
                            "started_at": date(nullable=True),
                            "finished_at": date(nullable=True),
                            "duration_ms": integer(minimum=0, nullable=True),
                            "error": _error(nullable=True),
                            "actual_value": string(nullable=True),
                            "screenshot_ids": array(object_id()),
                        },
                        required=["step_id", "order", "action", "status", "screenshot_ids"],
                    )
                ),
            },
            required=["run_id", "test_case_id", "test_case", "attempt", "status", "steps"],
        ),
        indexes=[
            IndexModel([("run_id", ASCENDING), ("status", ASCENDING)], name="run_status"),
            IndexModel(
                [("test_case_id", ASCENDING), ("started_at", DESCENDING)], name="case_started"
            ),
            IndexModel(
                [("run_id", ASCENDING), ("test_case_id", ASCENDING), ("attempt", ASCENDING)],
                name="run_case_attempt_unique",
                unique=True,
            ),
            IndexModel(
                [("status", ASCENDING), ("finished_at", DESCENDING)], name="status_finished"
            ),
            IndexModel([("error.signature", ASCENDING)], name="error_signature"),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
        ],
    ),
    CollectionSpec(
        name="screenshots",
        validator=timestamped(
            {
                "execution_id": object_id(),
                "run_id": object_id(),
                "step_id": string(nullable=True),
                "step_order": integer(minimum=0, nullable=True),
                "file_id": object_id(),
                "filename": string(nullable=True),
                "content_type": string(min_length=1),
                "size": integer(minimum=0),
                "sha256": string(pattern="^[0-9a-f]{64}$"),
                "width": integer(minimum=1, nullable=True),
                "height": integer(minimum=1, nullable=True),
                "taken_at": date(),
            },
            required=[
                "execution_id",
                "run_id",
                "file_id",
                "content_type",
                "size",
                "sha256",
                "taken_at",
            ],
        ),
        indexes=[
            IndexModel(
                [("execution_id", ASCENDING), ("taken_at", ASCENDING)], name="execution_taken"
            ),
            IndexModel([("run_id", ASCENDING)], name="run_id"),
            IndexModel([("sha256", ASCENDING)], name="sha256"),
        ],
    ),
    CollectionSpec(
        name="log_entries",
        validator=timestamped(
            {
                "run_id": object_id(),
                "execution_id": object_id(nullable=True),
                "step_order": integer(minimum=0, nullable=True),
                "level": enum(*LOG_LEVELS),
                "source": enum(*LOG_SOURCES),
                "message": string(),
                "timestamp": date(),
                "context": free_object(),
            },
            required=["run_id", "level", "source", "message", "timestamp", "context"],
        ),
        indexes=[
            IndexModel(
                [("execution_id", ASCENDING), ("timestamp", ASCENDING)],
                name="execution_timestamp",
            ),
            IndexModel([("run_id", ASCENDING), ("timestamp", ASCENDING)], name="run_timestamp"),
            IndexModel([("level", ASCENDING), ("timestamp", DESCENDING)], name="level_timestamp"),
            IndexModel(
                [("timestamp", ASCENDING)],
                name="ttl_timestamp",
                expireAfterSeconds=LOG_RETENTION_SECONDS,
            ),
        ],
    ),
    CollectionSpec(
        name="test_reports",
        validator=timestamped(
            {
                "run_id": object_id(),
                "format": enum(*REPORT_FORMATS),
                "summary": obj(
                    {
                        **_counters(),
                        "pass_rate": number(minimum=0, maximum=1),
                        "duration_ms": integer(minimum=0, nullable=True),
                    },
                    required=[*_COUNTER_NAMES, "pass_rate"],
                ),
                "generated_at": date(),
                "size": integer(minimum=0),
                "content": string(nullable=True),
                "content_file_id": object_id(nullable=True),
            },
            required=["run_id", "format", "summary", "generated_at", "size"],
        ),
        indexes=[
            IndexModel([("run_id", ASCENDING), ("generated_at", DESCENDING)], name="run_generated"),
            IndexModel([("generated_at", DESCENDING)], name="generated_at"),
        ],
    ),
]


async def forward(db: AsyncDatabase[Any]) -> None:
    for spec in COLLECTIONS:
        await ensure_collection(db, spec.name, validator=spec.validator, indexes=spec.indexes)


async def backward(db: AsyncDatabase[Any]) -> None:
    for spec in reversed(COLLECTIONS):
        await drop_collection(db, spec.name)
