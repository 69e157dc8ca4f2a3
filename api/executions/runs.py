"""Test runs: creating one with its queued executions, reading, changing, cancelling, deleting.

A run is created with a pending change (`api.executions.tracking`) already open and its counters
already holding its queued executions, which are then inserted in bounded batches; closing the
change makes it settled. An interruption midway leaves a run whose change is abandoned, which a
recount repairs (see `tracking.ABANDONED_AFTER`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from beanie import PydanticObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from api.artifacts import log_service, report_service, screenshot_service
from api.artifacts.buckets import Removed
from api.errors import Conflict, InvalidInput, NotFound, ProblemFieldError
from api.executions import service as execution_service
from api.executions import tracking
from api.executions.params import RunListParams
from api.executions.schemas import RunCases, RunCreate, RunUpdate
from api.executions.status import ACTIVE
from api.query import RawPage, find_page
from api.query.crud import IfMatch, check_if_match, delete_or_404, get_or_404, update_fields
from documents.base import utcnow
from documents.configurations import BrowserConfiguration, BrowserSettings, TestEnvironment
from documents.executions import (
    BrowserSnapshot,
    EnvironmentSnapshot,
    ExecutionStatus,
    PendingChange,
    RunCounters,
    RunFacts,
    RunStatus,
    TestRun,
    VariableSnapshot,
)
from documents.test_defs import CaseStatus, TestCase, TestSuite

RUN = tracking.RUN


def runs() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = TestRun.get_pymongo_collection()
    return collection


# -- reads ----------------------------------------------------------------------------------------


async def get_run(*, id: PydanticObjectId) -> TestRun:
    """The run as served (`tracking.observed`: its counters exact while changes are pending)."""
    return await tracking.observed(await get_or_404(TestRun, id, label=RUN))


async def list_runs(*, params: RunListParams) -> RawPage:
    raw = await find_page(TestRun, params)
    return replace(raw, documents=await tracking.observed_documents(raw.documents))


# -- create ---------------------------------------------------------------------------------------


def browser_snapshot(browser: BrowserConfiguration) -> BrowserSnapshot:
    return BrowserSnapshot.model_validate(
        browser.model_dump(include=set(BrowserSettings.model_fields))
    )


def environment_snapshot(environment: TestEnvironment) -> EnvironmentSnapshot:
    """The environment as the run saw it; a secret's value is never copied."""
    return EnvironmentSnapshot(
        name=environment.name,
        base_url=environment.base_url,
        variables=[
            VariableSnapshot(
                name=variable.name,
                value=None if variable.secret else variable.value,
                secret=variable.secret,
            )
            for variable in environment.variables
        ],
    )


async def _browser(
    id: PydanticObjectId | None, suite: TestSuite | None
) -> BrowserConfiguration | None:
    """The run's browser configuration: the one named, else the suite's, else the default."""
    if id is not None:
        found = await BrowserConfiguration.get(id)
        if found is None:
            raise InvalidInput.at(
                "body.browser_configuration_id", f"browser configuration {id} does not exist"
            )
        return found
    if suite is not None and suite.browser_configuration_id is not None:
        found = await BrowserConfiguration.get(suite.browser_configuration_id)
        if found is not None:
            return found
    return await BrowserConfiguration.find_one({"is_default": True})


async def _environment(
    id: PydanticObjectId | None, suite: TestSuite | None
) -> TestEnvironment | None:
    if id is not None:
        found = await TestEnvironment.get(id)
        if found is None:
            raise InvalidInput.at("body.environment_id", f"test environment {id} does not exist")
        return found
    if suite is not None and suite.environment_id is not None:
        return await TestEnvironment.get(suite.environment_id)
    return None


async def cases_by_id(
    ids: Sequence[PydanticObjectId], *, batch_size: int
) -> dict[PydanticObjectId, TestCase]:
    """The test cases with these ids, read in batches (each an `$in` of `batch_size` ids, the
    deployment's `Capabilities.write_batch`)."""
    found: dict[PydanticObjectId, TestCase] = {}
    for start in range(0, len(ids), batch_size):
        batch = list(ids[start : start + batch_size])
        async for case in TestCase.find({"_id": {"$in": batch}}):
            assert case.id is not None
            found[case.id] = case
    return found


async def _run_cases(
    suite: TestSuite | None, requested: Sequence[PydanticObjectId], *, batch_size: int
) -> list[TestCase]:
    """The suite's active cases in suite order, then the requested ones it lacks (each must
    exist, 422 listing those that do not)."""
    suite_ids = list(suite.test_case_ids) if suite is not None else []
    wanted = list(dict.fromkeys([*suite_ids, *requested]))
    cases = await cases_by_id(wanted, batch_size=batch_size)
    missing = [
        ProblemFieldError(
            location=f"body.test_case_ids.{index}", message=f"test case {id} does not exist"
        )
        for index, id in enumerate(requested)
        if id not in cases
    ]
    if missing:
        raise InvalidInput.listing(missing)
    chosen = [
        cases[id] for id in suite_ids if id in cases and cases[id].status is CaseStatus.ACTIVE
    ]
    taken = {case.id for case in chosen}
    chosen.extend(cases[id] for id in requested if id not in taken)
    return chosen


async def create_run(
    *, data: RunCases, suite_id: PydanticObjectId | None = None, batch_size: int
) -> TestRun:
    """A run with one queued execution per case (`RunCreate`, or a suite's run: `suite_id`).

    `batch_size` is the deployment's `Capabilities.write_batch` (ids per read, writes per insert).
    """
    if isinstance(data, RunCreate) and data.suite_id is not None:
        suite_id = data.suite_id
    suite: TestSuite | None = None
    if suite_id is not None:
        suite = await TestSuite.get(suite_id)
        if suite is None:
            if isinstance(data, RunCreate):
                raise InvalidInput.at("body.suite_id", f"test suite {suite_id} does not exist")
            raise NotFound(f"test suite {suite_id} does not exist")
    browser = await _browser(data.browser_configuration_id, suite)
    environment = await _environment(data.environment_id, suite)
    cases = await _run_cases(suite, data.test_case_ids, batch_size=batch_size)
    return await insert_run(
        TestRun(
            name=data.name,
            suite_id=suite_id,
            trigger=data.trigger,
            browser_configuration_id=browser.id if browser else None,
            environment_id=environment.id if environment else None,
            browser_configuration=browser_snapshot(browser) if browser else None,
            environment=environment_snapshot(environment) if environment else None,
            build_url=data.build_url,
            commit=data.commit,
            branch=data.branch,
            requested_by=data.requested_by,
        ),
        cases,
        batch_size=batch_size,
    )


async def insert_run(run: TestRun, cases: Sequence[TestCase], *, batch_size: int) -> TestRun:
    """Insert the run, then one queued execution (attempt 1) per case in inserts of
    `batch_size` (the deployment's `Capabilities.write_batch`)."""
    run.id = PydanticObjectId()
    token = secrets.token_hex(12)
    run.counters = RunCounters(queued=len(cases), total=len(cases))
    run.pending = [PendingChange(token=token, seq=run.version, at=run.created_at)]
    await runs().insert_one(run.model_dump(by_alias=True, exclude={"revision_id"}))
    change = tracking.Change(
        run_id=run.id, token=token, seq=run.version, run=RunFacts.model_validate(run.model_dump())
    )
    try:
        for start in range(0, len(cases), batch_size):
            batch = cases[start : start + batch_size]
            await execution_service.executions().insert_many(
                [
                    execution_service.stored(
                        execution_service.new_execution(
                            case, run_id=run.id, run=change.run, attempt=1, seq=change.seq
                        )
                    )
                    for case in batch
                ],
                ordered=False,
            )
    except PyMongoError:
        await execution_service.close_unknown(change)
        raise
    closed = await tracking.close_change(change)
    return await tracking.observed(closed or run)


# -- changes --------------------------------------------------------------------------------------


async def update_run(*, id: PydanticObjectId, data: RunUpdate, if_match: IfMatch) -> TestRun:
    """Change the run's name or CI metadata; a new branch is copied into its executions' facts
    (what analytics filter by): a write interrupted between the two is repaired by repeating
    the request."""
    changes = data.changes()
    run = await update_fields(TestRun, id, changes, label=RUN, if_match=if_match)
    if "branch" in changes:
        await execution_service.executions().update_many(
            {"run_id": id}, {"$set": {"run.branch": run.branch}}
        )
    return await tracking.observed(run)


async def cancel_run(*, id: PydanticObjectId) -> TestRun:
    """The run and every execution not yet finished become `cancelled` (409 if it finished)."""
    change = await tracking.open_change(id, cancel=True)
    now = utcnow()
    try:
        await execution_service.executions().update_many(
            {"run_id": id, "status": {"$in": sorted(ACTIVE)}},
            [
                {
                    "$set": {
                        "status": ExecutionStatus.CANCELLED.value,
                        "finished_at": now,
                        "updated_at": now,
                        "run_seq": change.seq,
                        "duration_ms": {
                            "$cond": [
                                {"$eq": [{"$ifNull": ["$started_at", None]}, None]},
                                None,
                                {"$max": [0, _since_start(now)]},
                            ]
                        },
                    }
                },
                # In the same update: the cancel is a transition (see `service.status_update`).
                {
                    "$set": {
                        "transitions": {
                            "$concatArrays": [
                                {"$ifNull": ["$transitions", []]},
                                [
                                    {
                                        "status": ExecutionStatus.CANCELLED.value,
                                        "seq": change.seq,
                                        "at": now,
                                        "duration_ms": "$duration_ms",
                                    }
                                ],
                            ]
                        }
                    }
                },
            ],
        )
    except PyMongoError:
        await execution_service.close_unknown(change)
        raise
    closed = await tracking.close_change(change, recount=True)
    if closed is None:
        raise NotFound(f"{RUN} {id} does not exist")
    return await tracking.observed(closed)


def _since_start(now: Any) -> dict[str, Any]:
    return {"$dateDiff": {"startDate": "$started_at", "endDate": now, "unit": "millisecond"}}


async def recount_run(*, id: PydanticObjectId) -> TestRun:
    """Recount the counters from the executions now, or once the changes being written close."""
    run = await tracking.request_recount(id)
    if run is None:
        raise NotFound(f"{RUN} {id} does not exist")
    return await tracking.observed(run)


async def delete_run(*, id: PydanticObjectId, if_match: IfMatch) -> None:
    """Delete the run and everything that belongs to it (`purge_run`); 409 while it runs."""
    run = await get_or_404(TestRun, id, label=RUN)
    check_if_match(run, if_match, label=RUN)
    if run.status is RunStatus.RUNNING:
        raise Conflict(f"{RUN} {id} is {run.status.value}: cancel it before deleting it")
    await purge_run(id=id, if_match=if_match)


@dataclass(frozen=True, slots=True)
class RunDeletion:
    """What deleting a run removed (or, counted by `retention`, would remove)."""

    runs: int = 0
    executions: int = 0
    screenshots: Removed = field(default_factory=Removed)
    log_lines: int = 0
    reports: Removed = field(default_factory=Removed)

    def __add__(self, other: RunDeletion) -> RunDeletion:
        return RunDeletion(
            runs=self.runs + other.runs,
            executions=self.executions + other.executions,
            screenshots=self.screenshots + other.screenshots,
            log_lines=self.log_lines + other.log_lines,
            reports=self.reports + other.reports,
        )


async def purge_run(*, id: PydanticObjectId, if_match: IfMatch = None) -> RunDeletion:
    """Delete everything that belongs to the run: its reports, screenshots (and their GridFS
    files once nothing else points to them), log lines and executions first, then the run (404
    if gone, 412 for a stale `if_match`), so an interrupted delete leaves a run that a repeated
    delete removes. The one deletion behind `DELETE /executions/runs/{id}` and `jbts prune`."""
    reports = await report_service.delete_run_reports(run_id=id)
    screenshots = await screenshot_service.delete_run_screenshots(run_id=id)
    log_lines = await log_service.delete_run_logs(run_id=id)
    executions = await execution_service.executions().delete_many({"run_id": id})
    await delete_or_404(TestRun, id, label=RUN, if_match=if_match)
    return RunDeletion(
        runs=1,
        executions=executions.deleted_count,
        screenshots=screenshots,
        log_lines=log_lines,
        reports=reports,
    )
