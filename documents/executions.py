"""Execution tracking: runs, the execution of each test case in a run, and each step's result."""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from beanie import PydanticObjectId
from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, IndexModel

from documents.base import TimestampedDocument, VersionedDocument, sort_indexes
from documents.configurations import BrowserSettings
from documents.test_defs import StepAction, TestStep


class RunTrigger(StrEnum):
    MANUAL = "manual"
    CI = "ci"
    SCHEDULE = "schedule"
    API = "api"
    IMPORT = "import"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


class BrowserSnapshot(BrowserSettings):
    """The browser configuration a run used, as it was then (`is_default` is not copied)."""


class VariableSnapshot(BaseModel):
    """An environment variable as a run saw it; a secret's value is never copied (it is None)."""

    name: str
    value: str | None = None
    secret: bool = False


class EnvironmentSnapshot(BaseModel):
    """The test environment a run used, as it was then, without secret values."""

    name: str
    base_url: str
    variables: list[VariableSnapshot] = Field(default_factory=list)


class RunCounters(BaseModel):
    """How many of a run's executions are in each status; `total` is their sum."""

    queued: int = Field(default=0, ge=0)
    running: int = Field(default=0, ge=0)
    passed: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    error: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)
    cancelled: int = Field(default=0, ge=0)
    total: int = Field(default=0, ge=0)


class PendingChange(BaseModel):
    """A change to a run's executions being written (see `api/executions/tracking.py`).

    Opened on the run before the executions are written, closed (removed, with the counters'
    change) after: while one is open, the run's counters may not yet include it.
    """

    token: str = Field(min_length=1)
    seq: int = Field(ge=1, description="The run's version when the change was opened.")
    at: datetime


RUN_SORT_PATHS = ("created_at", "started_at", "duration_ms")
"""The stored fields run lists sort by."""

EXECUTION_SORT_PATHS = ("created_at", "started_at", "duration_ms")
"""The stored fields execution lists sort by."""


class TestRun(VersionedDocument):
    __test__ = False  # not a pytest test class

    name: str
    suite_id: PydanticObjectId | None = None
    trigger: RunTrigger = RunTrigger.MANUAL
    status: RunStatus = RunStatus.QUEUED
    # The references (for filtering) and the snapshots (the values actually used).
    browser_configuration_id: PydanticObjectId | None = None
    environment_id: PydanticObjectId | None = None
    browser_configuration: BrowserSnapshot | None = None
    environment: EnvironmentSnapshot | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    counters: RunCounters = Field(default_factory=RunCounters)
    # CI metadata.
    build_url: str | None = None
    commit: str | None = None
    branch: str | None = None
    requested_by: str | None = None
    # +1 on every change to the run or to its executions' statuses: what live-status polling
    # compares where change streams are unavailable.
    version: int = Field(default=1, ge=1)
    # Changes to the executions being written now (m0006): see `PendingChange`.
    pending: list[PendingChange] = Field(default_factory=list)
    # The counters must be recounted from the executions once no change is pending (m0006).
    recount_needed: bool = False
    # A cancel was asked for: the run finishes as `cancelled` (m0006).
    cancel_requested: bool = False

    class Settings:
        name = "test_runs"
        indexes: ClassVar[list[IndexModel]] = [
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
            # m0006: every list order, alone and within a suite's runs.
            *sort_indexes(*RUN_SORT_PATHS),
            *sort_indexes(*RUN_SORT_PATHS, equal="suite_id"),
            *sort_indexes("created_at", equal="status"),
        ]


class ExecutionError(BaseModel):
    """A failure: `signature` is the normalised message that groups equal failures together."""

    message: str
    type: str | None = None
    stack: str | None = None
    signature: str | None = None


class CaseSnapshot(BaseModel):
    """The test case as it was when executed, so history survives later edits."""

    version: int = Field(ge=1)
    name: str
    automation_key: str | None = None
    # Analytics filter executions by the tags their case had when it ran (m0009).
    tags: list[str] = Field(default_factory=list)
    steps: list[TestStep] = Field(default_factory=list)


class TestStepExecution(BaseModel):
    __test__ = False  # not a pytest test class

    step_id: str = Field(min_length=1)
    order: int = Field(default=0, ge=0)
    action: StepAction
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    error: ExecutionError | None = None
    actual_value: str | None = None
    screenshot_ids: list[PydanticObjectId] = Field(default_factory=list)


class RunFacts(BaseModel):
    """What analytics select executions by, copied from their run when they are created (m0009),
    so that one indexed `$match` on executions selects a window without reading the runs.

    `created_at` is the run's: an analytics window (`from`/`to`) holds the executions of the
    runs opened within it. Only `branch` can change afterwards (`PATCH` of the run copies it)."""

    suite_id: PydanticObjectId | None = None
    environment_id: PydanticObjectId | None = None
    browser_configuration_id: PydanticObjectId | None = None
    branch: str | None = None
    trigger: RunTrigger = RunTrigger.MANUAL
    created_at: datetime


RUN_FACTS = tuple(RunFacts.model_fields)
"""The run's fields copied into its executions' `run`."""

ANALYTICS_KEYS: dict[str, list[tuple[str, int]]] = {
    "analytics_window": [],
    "analytics_suite": [("run.suite_id", ASCENDING)],
    "analytics_case": [("test_case_id", ASCENDING)],
    "analytics_tags": [("test_case.tags", ASCENDING)],
}
"""The indexes analytics pipelines start with (m0009), by name: their equality keys, then the
run's `created_at`. A filter on the case is the most selective, then on the suite, then a tag;
every other filter is checked on the executions of the window."""


def attempt_key(run_id: object, test_case_id: object, attempt: object) -> str:
    """The one value per run + case + attempt that the unique index `attempt_key_unique` holds."""
    return f"{run_id}:{test_case_id}:{attempt}"


MAX_TRANSITIONS = 3
"""An execution changes status at most this often: created (queued, or straight to a reported
status), running, final; the status machine allows no more."""


class ExecutionTransition(BaseModel):
    """One status change of an execution: written with it, in the same update."""

    status: ExecutionStatus
    seq: int = Field(ge=1)
    """The run's version of the change (the execution's `run_seq` as it wrote this status)."""
    at: datetime
    duration_ms: int | None = Field(default=None, ge=0)


class TestExecution(TimestampedDocument):
    __test__ = False  # not a pytest test class

    run_id: PydanticObjectId
    test_case_id: PydanticObjectId
    test_case: CaseSnapshot
    attempt: int = Field(default=1, ge=1)
    status: ExecutionStatus = ExecutionStatus.QUEUED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    error: ExecutionError | None = None
    worker: str | None = None
    steps: list[TestStepExecution] = Field(default_factory=list)
    # The run's version when this execution last changed status (its `PendingChange.seq`), so
    # live status resumes from an event id without gaps (m0006).
    run_seq: int = Field(default=1, ge=1)
    # Every status change with its `run_seq` (oldest first), so live status sends each one, not
    # only the latest. Absent on executions written before: their status at their `run_seq`.
    transitions: list[ExecutionTransition] = Field(default_factory=list)
    # The run's facts analytics filter by (m0009; absent only before that migration ran).
    run: RunFacts | None = None
    # `run_id:test_case_id:attempt`, derived on construction (they never change): reporting is
    # idempotent per run + case + attempt through its unique index (m0006). A single-field unique
    # index, because the embedded engine checks a compound one by reading every execution on
    # every write (73 ms per update at 2,000 executions, against 0.7 ms).
    attempt_key: str = ""

    @model_validator(mode="before")
    @classmethod
    def _derive_attempt_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "run_id" in data and "test_case_id" in data:
            key = attempt_key(data["run_id"], data["test_case_id"], data.get("attempt", 1))
            return {**data, "attempt_key": key}
        return data

    class Settings:
        name = "test_executions"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("run_id", ASCENDING), ("status", ASCENDING)], name="run_status"),
            # Reporting is idempotent per run + case + attempt: a retried report hits this.
            IndexModel([("attempt_key", ASCENDING)], name="attempt_key_unique", unique=True),
            # A case's attempts in a run (the next attempt, a bulk report's lookups).
            IndexModel(
                [("run_id", ASCENDING), ("test_case_id", ASCENDING), ("attempt", ASCENDING)],
                name="run_case_attempt",
            ),
            IndexModel(
                [("status", ASCENDING), ("finished_at", DESCENDING)], name="status_finished"
            ),
            IndexModel([("error.signature", ASCENDING)], name="error_signature"),
            # m0009: analytics select a window of runs, alone, of a suite, a case or a tag.
            *[
                IndexModel([*equal, ("run.created_at", ASCENDING)], name=name)
                for name, equal in ANALYTICS_KEYS.items()
            ],
            # m0006: every list order, alone, within a run and for a case's history; live status.
            *sort_indexes(*EXECUTION_SORT_PATHS),
            *sort_indexes(*EXECUTION_SORT_PATHS, equal="run_id"),
            *sort_indexes(*EXECUTION_SORT_PATHS, equal="test_case_id"),
            IndexModel(
                [("run_id", ASCENDING), ("run_seq", ASCENDING), ("_id", ASCENDING)], name="run_seq"
            ),
        ]
