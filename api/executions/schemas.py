"""Request and response bodies of runs, executions and step results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.query.bulk import MAX_BULK_ITEMS
from api.query.pagination import Page
from api.schemas import (
    InputModel,
    JsonInteger,
    Name,
    ObjectIdInput,
    ObjectIdStr,
    ReadModel,
    Timestamp,
    UpdateModel,
    unique_in_order,
)
from api.test_defs.schemas import AutomationKey, StepRead
from documents.executions import ExecutionStatus, RunStatus, RunTrigger, StepStatus
from documents.test_defs import StepAction

MAX_ATTEMPT = 100
MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # a week
MAX_RUN_CASES = 10_000
MAX_STEP_RESULTS = 500
MAX_SCREENSHOTS_PER_STEP = 50

Attempt = Annotated[
    int,
    Field(ge=1, le=MAX_ATTEMPT, description="1 for the first try, 2 and up for retries."),
    JsonInteger,
]
DurationMs = Annotated[int, Field(ge=0, le=MAX_DURATION_MS), JsonInteger]
Worker = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Who ran it (a CI agent, a container).",
        examples=["ci-agent-7"],
    ),
]
ShortText = Annotated[str, Field(max_length=2000)]
Commit = Annotated[
    str, Field(min_length=1, max_length=64, examples=["9fceb02d0ae598e95dc970b74767f19372d61af8"])
]
Branch = Annotated[str, Field(min_length=1, max_length=255, examples=["main"])]
BuildUrl = Annotated[
    str,
    Field(max_length=2000, pattern=r"^https?://\S+$", examples=["https://ci.example.com/job/42"]),
]
Person = Annotated[str, Field(min_length=1, max_length=200, examples=["alice"])]


def check_time_order(started_at: datetime | None, finished_at: datetime | None) -> None:
    if started_at is not None and finished_at is not None and finished_at < started_at:
        raise ValueError("finished_at is before started_at")


class ErrorInput(InputModel):
    """A failure as a runner reports it. Without `signature`, one is computed from the message."""

    message: str = Field(min_length=1, max_length=10_000, examples=["Timeout 30000ms exceeded"])
    type: str | None = Field(default=None, max_length=200, examples=["TimeoutError"])
    stack: str | None = Field(default=None, max_length=50_000)
    signature: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Groups equal failures; computed by normalising the message when absent.",
    )


class ErrorRead(BaseModel):
    message: str
    type: str | None
    stack: str | None
    signature: str | None = Field(description="Equal failures share it (`/analytics/failures`).")


class BrowserSnapshotRead(BaseModel):
    """The browser configuration the run used, as it was when the run was created."""

    name: str
    browser: str
    version: str | None
    headless: bool
    viewport: dict[str, int]
    device_scale_factor: float
    user_agent: str | None
    locale: str
    timezone: str
    args: list[str]


class VariableSnapshotRead(BaseModel):
    name: str
    value: str | None = Field(description="Null for a secret variable: never copied.")
    secret: bool


class EnvironmentSnapshotRead(BaseModel):
    """The environment the run used, as it was then; secret values are never copied."""

    name: str
    base_url: str
    variables: list[VariableSnapshotRead]


class CountersRead(BaseModel):
    """How many of the run's executions are in each status; `total` is their sum."""

    queued: int
    running: int
    passed: int
    failed: int
    error: int
    skipped: int
    cancelled: int
    total: int


class CiMetadata(InputModel):
    build_url: BuildUrl | None = None
    commit: Commit | None = None
    branch: Branch | None = None
    requested_by: Person | None = None


class RunCases(CiMetadata):
    """What a run executes and where: the fields a run created from a suite also takes."""

    name: Name = Field(examples=["Nightly regression"])
    trigger: RunTrigger = RunTrigger.API
    test_case_ids: list[ObjectIdInput] = Field(
        default_factory=list,
        max_length=MAX_RUN_CASES,
        description="Test cases to execute (after the suite's, without repeats), in this order.",
    )
    browser_configuration_id: ObjectIdInput | None = Field(
        default=None,
        description="Unset: the suite's, else the default browser configuration.",
    )
    environment_id: ObjectIdInput | None = Field(
        default=None, description="Unset: the suite's, else none."
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        self.test_case_ids = unique_in_order(self.test_case_ids)
        return self


class SuiteRunCreate(RunCases):
    """A run of a suite's active test cases (in suite order), plus any `test_case_ids`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Nightly regression",
                    "trigger": "ci",
                    "branch": "main",
                    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "build_url": "https://ci.example.com/job/42",
                }
            ]
        }
    )


class RunCreate(RunCases):
    """A run; with `suite_id` and/or `test_case_ids`, one queued execution per case."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Nightly regression",
                    "trigger": "ci",
                    "suite_id": "6650f1c2a7b4e3d2c1b0a998",
                    "branch": "main",
                    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "build_url": "https://ci.example.com/job/42",
                    "requested_by": "alice",
                }
            ]
        }
    )

    suite_id: ObjectIdInput | None = None


class RunUpdate(UpdateModel):
    """A run's name and CI metadata; `null` clears a metadata field."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {"build_url", "commit", "branch", "requested_by"}
    )

    name: Name | None = None
    build_url: BuildUrl | None = None
    commit: Commit | None = None
    branch: Branch | None = None
    requested_by: Person | None = None


class RunRead(ReadModel):
    """A test run: its status, counters, the configuration it used, and CI metadata."""

    name: str
    suite_id: ObjectIdStr | None
    trigger: RunTrigger
    status: RunStatus
    browser_configuration_id: ObjectIdStr | None
    environment_id: ObjectIdStr | None
    browser_configuration: BrowserSnapshotRead | None
    environment: EnvironmentSnapshotRead | None
    started_at: datetime | None = Field(description="When its first execution started.")
    finished_at: datetime | None = Field(description="When its last execution finished.")
    duration_ms: int | None
    counters: CountersRead
    build_url: str | None
    commit: str | None
    branch: str | None
    requested_by: str | None
    version: int = Field(
        ge=1, description="+1 on every change of the run or of its executions' statuses."
    )
    cancel_requested: bool = Field(description="A cancel was asked for and is being applied.")
    recount_needed: bool = Field(
        description="The counters will be recounted once the changes being written close."
    )


MAX_EVENT_ERROR_LENGTH = 500
"""An execution event carries at most this much of its error's message (the execution has all)."""


class RunEvent(BaseModel):
    """The data of a `run` event (`GET /executions/runs/{id}/events`): the run's state."""

    id: ObjectIdStr
    name: str
    status: RunStatus
    counters: CountersRead
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    version: int
    cancel_requested: bool


class ExecutionEvent(BaseModel):
    """The data of an `execution` event: one execution's state after a change of its status."""

    id: ObjectIdStr
    test_case_id: ObjectIdStr
    test_case_name: str
    attempt: int
    status: ExecutionStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error_message: str | None = Field(
        description=f"The first {MAX_EVENT_ERROR_LENGTH} characters of the error's message."
    )
    worker: str | None
    run_seq: int


class ExecutionCreate(InputModel):
    """A queued execution of a test case in a run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"run_id": "6650f1c2a7b4e3d2c1b0a998", "test_case_id": "6650f1c2a7b4e3d2c1b0a997"}
            ]
        }
    )

    run_id: ObjectIdInput
    test_case_id: ObjectIdInput
    attempt: Attempt | None = Field(
        default=None, description="Unset: one more than the case's last attempt in the run."
    )


class ExecutionUpdate(InputModel):
    """A status change, following the status machine; the server stamps the times it needs."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "running", "worker": "ci-agent-7"},
                {
                    "status": "failed",
                    "error": {"message": "Timeout 30000ms exceeded", "type": "TimeoutError"},
                },
            ]
        }
    )

    status: ExecutionStatus
    worker: Worker | None = None
    error: ErrorInput | None = None
    started_at: Timestamp | None = Field(default=None, description="Default: when it started.")
    finished_at: Timestamp | None = Field(default=None, description="Default: when it finished.")
    duration_ms: DurationMs | None = Field(
        default=None, description="Default: `finished_at - started_at`."
    )

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        check_time_order(self.started_at, self.finished_at)
        return self


class StepResultInput(InputModel):
    """The result of one step; reporting a step again replaces its result."""

    step_id: str = Field(min_length=1, max_length=64, examples=["a1b2c3d4e5f6"])
    status: StepStatus
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    duration_ms: DurationMs | None = None
    error: ErrorInput | None = None
    actual_value: str | None = Field(default=None, max_length=10_000)
    screenshot_ids: list[ObjectIdInput] = Field(
        default_factory=list, max_length=MAX_SCREENSHOTS_PER_STEP
    )

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        check_time_order(self.started_at, self.finished_at)
        return self


class StepResults(InputModel):
    """One or many step results, written in one atomic update of the execution."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {"step_id": "a1b2c3d4e5f6", "status": "passed", "duration_ms": 420},
                        {
                            "step_id": "b2c3d4e5f6a1",
                            "status": "failed",
                            "error": {"message": "element '#login' not visible"},
                        },
                    ]
                }
            ]
        }
    )

    steps: list[StepResultInput] = Field(min_length=1, max_length=MAX_STEP_RESULTS)

    @model_validator(mode="after")
    def _each_step_once(self) -> Self:
        _each_step_once(self.steps)
        return self


def _each_step_once(steps: list[StepResultInput]) -> None:
    ids = [step.step_id for step in steps]
    repeated = sorted({id for id in ids if ids.count(id) > 1})
    if repeated:
        raise ValueError(f"each step once per report; repeated: {', '.join(repeated)}")


def _reported(status: ExecutionStatus) -> ExecutionStatus:
    if status is ExecutionStatus.QUEUED:
        raise ValueError("a result says how an execution runs or ran: any status but queued")
    return status


ResultStatus = Annotated[
    ExecutionStatus,
    AfterValidator(_reported),
    WithJsonSchema(
        {
            "type": "string",
            "enum": [s.value for s in ExecutionStatus if s is not ExecutionStatus.QUEUED],
            "description": "Any execution status but `queued`.",
        }
    ),
]
"""What a reported result says: any execution status but `queued`."""


class ResultInput(InputModel):
    """The result of one attempt of a test case in a run.

    The case is named by exactly one of `test_case_id` and `automation_key` (checked per result:
    a 422 at that result). A result for a run, case and attempt that already has an execution
    (queued when the run was created, or reported before) updates it, following the status
    machine (a queued execution may go straight to a final status); otherwise it creates one.
    """

    run_id: ObjectIdInput
    test_case_id: ObjectIdInput | None = None
    automation_key: AutomationKey | None = None
    attempt: Attempt = 1
    status: ResultStatus
    started_at: Timestamp | None = Field(default=None, description="Default: when it started.")
    finished_at: Timestamp | None = Field(
        default=None, description="Default: now, for a final status."
    )
    duration_ms: DurationMs | None = Field(
        default=None, description="Default: `finished_at - started_at`."
    )
    error: ErrorInput | None = Field(
        default=None, description="Why it failed; not for a passed or running result."
    )
    worker: Worker | None = None
    steps: list[StepResultInput] = Field(
        default_factory=list,
        max_length=MAX_STEP_RESULTS,
        description="Step results, by the `step_id` of the case's steps; each step once.",
    )

    @model_validator(mode="after")
    def _each_step_once(self) -> Self:
        _each_step_once(self.steps)
        return self


class BulkResults(InputModel):
    """Up to 1,000 results, of any runs; idempotent per run + case + attempt."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "run_id": "6650f1c2a7b4e3d2c1b0a998",
                            "test_case_id": "6650f1c2a7b4e3d2c1b0a997",
                            "status": "passed",
                            "duration_ms": 1830,
                            "worker": "ci-agent-7",
                        },
                        {
                            "run_id": "6650f1c2a7b4e3d2c1b0a998",
                            "automation_key": "tests.test_login::test_lockout",
                            "attempt": 2,
                            "status": "failed",
                            "started_at": "2026-11-30T09:15:02Z",
                            "finished_at": "2026-11-30T09:15:09Z",
                            "error": {
                                "message": "Timeout 30000ms exceeded",
                                "type": "TimeoutError",
                            },
                        },
                    ]
                }
            ]
        }
    )

    results: list[ResultInput] = Field(
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description=f"1 to {MAX_BULK_ITEMS} results, written unordered: in one command on "
        f"MongoDB, in batches of {EMBEDDED_WRITE_BATCH} on the embedded engine. Each run + "
        "case + attempt once per request: a later result naming the same one fails (422).",
    )


class CaseSnapshotRead(BaseModel):
    """The test case as it was when executed."""

    version: int
    name: str
    automation_key: str | None = None
    steps: list[StepRead]


class StepExecutionRead(BaseModel):
    step_id: str
    order: int
    action: StepAction
    status: StepStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: ErrorRead | None
    actual_value: str | None
    screenshot_ids: list[ObjectIdStr]


class ExecutionRead(ReadModel):
    """The execution of a test case in a run, with a snapshot of the case and each step's result."""

    run_id: ObjectIdStr
    test_case_id: ObjectIdStr
    test_case: CaseSnapshotRead
    attempt: int
    status: ExecutionStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: ErrorRead | None
    worker: str | None
    steps: list[StepExecutionRead]
    run_seq: int = Field(
        ge=1, description="The run's `version` when this execution last changed status."
    )


class ImportedCounts(BaseModel):
    """How many of the report's testcases had each status."""

    passed: int
    failed: int
    error: int
    skipped: int


class ImportRead(BaseModel):
    """What a JUnit import made: the run (finished, its counters filled) and how the report's
    testcases found their test cases."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run": {
                        "id": "6650f1c2a7b4e3d2c1b0a998",
                        "created_at": "2026-11-30T09:20:00Z",
                        "updated_at": "2026-11-30T09:20:01Z",
                        "name": "pytest tests",
                        "suite_id": None,
                        "trigger": "import",
                        "status": "failed",
                        "browser_configuration_id": None,
                        "environment_id": None,
                        "browser_configuration": None,
                        "environment": None,
                        "started_at": "2026-11-30T09:15:00Z",
                        "finished_at": "2026-11-30T09:15:03.412Z",
                        "duration_ms": 3412,
                        "counters": {
                            "queued": 0,
                            "running": 0,
                            "passed": 3,
                            "failed": 1,
                            "error": 1,
                            "skipped": 2,
                            "cancelled": 0,
                            "total": 7,
                        },
                        "build_url": "https://ci.example.com/job/42",
                        "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                        "branch": "main",
                        "requested_by": None,
                        "version": 5,
                        "cancel_requested": False,
                        "recount_needed": False,
                    },
                    "testcases": 7,
                    "cases_created": 2,
                    "cases_found": 5,
                    "executions": {"passed": 3, "failed": 1, "error": 1, "skipped": 2},
                }
            ]
        }
    )

    run: RunRead
    testcases: int = Field(description="The report's testcases: one execution each.")
    cases_created: int = Field(
        description="Test cases created for automation keys no case had (active, tagged "
        "`imported`, no steps)."
    )
    cases_found: int = Field(description="Existing test cases found by automation key.")
    executions: ImportedCounts


class HistoryErrorRead(BaseModel):
    """How an execution failed (without the stack: `GET /executions/{id}` has it)."""

    message: str
    type: str | None
    signature: str | None = Field(description="Equal failures share it.")


class HistoryItem(BaseModel):
    """One execution of a test case, with what its run says about where it ran."""

    id: ObjectIdStr = Field(description="The execution's id.")
    run_id: ObjectIdStr
    run_name: str | None = Field(description="Null if the run no longer exists.")
    branch: str | None
    commit: str | None
    browser_configuration_name: str | None = Field(
        description="The name of the browser configuration the run used."
    )
    environment_name: str | None = Field(description="The name of the environment the run used.")
    attempt: int
    status: ExecutionStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: HistoryErrorRead | None
    test_case_version: int = Field(description="The case's `version` when it was executed.")


class HistoryPage[T](Page[T]):
    """A page of a test case's executions, newest first, and their pass rate."""

    pass_rate: float | None = Field(
        ge=0,
        le=1,
        description="passed / (passed + failed + error) over the executions of this page; "
        "skipped, cancelled, queued and running ones do not count. Null when none of them "
        "passed, failed or errored.",
    )
