"""`POST /executions/runs/import`: a JUnit XML report becomes a run, one execution per testcase.

The whole file is parsed and every result checked before anything is written, so a refused file
(an XML bomb, an external entity, malformed XML, a testcase repeated more often than attempts
go) stores nothing. Then:

1. each testcase finds its test case by `automation_key` (`classname::name`, or the name alone),
   read in bounded batches; the keys no case has become new cases (active, tagged `imported`, no
   steps), inserted in batches. The unique index on `automation_key` guards concurrent imports:
   a duplicate key means another import created that case meanwhile, which is then read;
2. the run is created (`trigger: import`) with no queued execution;
3. every testcase is reported through `POST /executions/bulk`'s machinery
   (`api.executions.bulk.report_results`): one result per testcase, attempt 1, and 2, 3, ... for
   a testcase repeated in the file (parametrised duplicates, reruns written as testcases), so
   nothing is lost. The run then finishes with its counters, `passed` or `failed` by the latest
   attempt of each case, like any other run.

JUnit gives durations but no start times: the executions are laid end to end in file order from
the report's timestamp (or so that the last ends now), and a run with a timestamp finishes when
its last execution did, not when it was imported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId
from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from api.errors import Conflict, DatabaseUnavailable, InvalidInput, invalid_input
from api.executions import runs as run_service
from api.executions.bulk import report_results
from api.executions.junit import JUnitCase, JUnitReport, parse_junit
from api.executions.params import ImportParams
from api.executions.schemas import MAX_ATTEMPT, ErrorInput, ResultInput
from api.executions.status import RUN_FINISHED
from api.query.bulk import BulkStatus
from api.schemas import MAX_NAME_LENGTH
from api.test_defs.schemas import TestCaseCreate
from api.test_defs.service import new_case_document
from documents.base import utcnow
from documents.executions import RunTrigger, TestRun
from documents.test_defs import CaseStatus, TestCase, TestSuite

IMPORTED_TAG = "imported"
DEFAULT_RUN_NAME = "JUnit import"
TESTCASES = "file.testcases"
"""Where a testcase's problems are reported: `file.testcases.<index in the file>`."""
_MAX_ERROR_TYPE = 200
_MAX_WORKER = 200
DUPLICATE_KEY = 11000


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import made: the run, and how its testcases found their cases."""

    run: TestRun
    testcases: int
    cases_created: int
    cases_found: int
    statuses: Counter[str]


async def import_junit(*, data: bytes, options: ImportParams, batch_size: int) -> Imported:
    """Parse the report, find or create its cases, create the run and report every testcase.

    `batch_size` is the deployment's `Capabilities.write_batch`: keys per read, writes per
    command."""
    report = parse_junit(data)
    if not report.cases:
        raise InvalidInput("the report has no testcases: there is nothing to import")
    results = _results(report)
    if options.suite_id is not None and await TestSuite.get(options.suite_id) is None:
        raise InvalidInput.at("query.suite_id", f"test suite {options.suite_id} does not exist")
    firsts = {case.automation_key: case for case in reversed(report.cases)}
    keys = list(dict.fromkeys(case.automation_key for case in report.cases))
    cases = await _cases_by_key(keys, batch_size=batch_size)
    missing = [firsts[key] for key in keys if key not in cases]
    created, meanwhile = await _create_cases(missing, batch_size=batch_size)
    cases.update(created)
    cases.update(meanwhile)
    run = await run_service.insert_run(
        TestRun(
            name=_cut(options.name or report.name or DEFAULT_RUN_NAME, MAX_NAME_LENGTH),
            suite_id=options.suite_id,
            trigger=RunTrigger.IMPORT,
            started_at=results[0].started_at,
            build_url=options.build_url,
            commit=options.commit,
            branch=options.branch,
            requested_by=options.requested_by,
        ),
        [],
        batch_size=batch_size,
    )
    run_id = run.id
    assert run_id is not None
    bound = [
        result.model_copy(
            update={
                "run_id": run_id,
                "test_case_id": cases[testcase.automation_key].id,
                "automation_key": None,
            }
        )
        for result, testcase in zip(results, report.cases, strict=True)
    ]
    outcome = await report_results(results=bound, at=TESTCASES, batch_size=batch_size)
    failed = [result for result in outcome.results if result.status is BulkStatus.FAILED]
    if failed:
        raise _incomplete(run_id, len(bound) - len(failed), len(bound), failed[0].error)
    finished = await _finished_as_reported(run_id, results) if report.timestamp else None
    run = finished or await run_service.get_run(id=run_id)
    return Imported(
        run=run,
        testcases=len(report.cases),
        cases_created=len(created),
        cases_found=len(keys) - len(created),
        statuses=Counter(case.status for case in report.cases),
    )


# -- before writing: every result, checked --------------------------------------------------------


def _results(report: JUnitReport) -> list[ResultInput]:
    """One result per testcase, laid end to end in file order; attempts count repeats of a key.

    Checked now, so that a testcase the API would refuse refuses the file before any write.
    """
    durations = [case.duration_ms or 0 for case in report.cases]
    start = report.timestamp or utcnow() - timedelta(milliseconds=sum(durations))
    worker = _cut(report.hostname, _MAX_WORKER) if report.hostname else None
    attempts: Counter[str] = Counter()
    placeholder = PydanticObjectId()  # the run and the case, once they exist
    results: list[ResultInput] = []
    for index, (case, duration) in enumerate(zip(report.cases, durations, strict=True)):
        attempts[case.automation_key] += 1
        if attempts[case.automation_key] > MAX_ATTEMPT:
            raise InvalidInput.at(
                f"{TESTCASES}.{index}",
                f"testcase {case.automation_key!r} is repeated more often than a case may be "
                f"attempted in one run ({MAX_ATTEMPT} times)",
            )
        finish = start + timedelta(milliseconds=duration)
        try:
            results.append(
                ResultInput.model_validate(
                    {
                        "run_id": placeholder,
                        "automation_key": case.automation_key,
                        "attempt": attempts[case.automation_key],
                        "status": case.status,
                        "started_at": start,
                        "finished_at": finish,
                        "duration_ms": case.duration_ms,
                        "error": _error(case),
                        "worker": worker,
                    }
                )
            )
        except ValidationError as exc:  # the parser's bounds are within the API's: not expected
            raise invalid_input(exc, at=(TESTCASES, index)) from exc
        start = finish
    return results


def _error(case: JUnitCase) -> dict[str, Any] | None:
    if case.error is None:
        return None
    error_type = case.error.type
    return ErrorInput(
        message=case.error.message,
        type=_cut(error_type, _MAX_ERROR_TYPE) if error_type else None,
        stack=case.error.stack,
    ).model_dump(exclude_none=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- cases ----------------------------------------------------------------------------------------


async def _cases_by_key(keys: Sequence[str], *, batch_size: int) -> dict[str, TestCase]:
    """The cases that have these automation keys, read in batches (each an `$in` of
    `batch_size` keys)."""
    found: dict[str, TestCase] = {}
    for start in range(0, len(keys), batch_size):
        batch = list(keys[start : start + batch_size])
        async for case in TestCase.find({"automation_key": {"$in": batch}}):
            if case.automation_key is not None:
                found[case.automation_key] = case
    return found


def _new_case(case: JUnitCase) -> dict[str, Any]:
    where = f" (class {case.classname})" if case.classname else ""
    _, document = new_case_document(
        TestCaseCreate(
            name=_cut(case.name, MAX_NAME_LENGTH),
            description=f"Imported from a JUnit report{where}."[:10_000],
            status=CaseStatus.ACTIVE,
            tags=[IMPORTED_TAG],
            automation_key=case.automation_key,
        )
    )
    return document


async def _create_cases(
    missing: Sequence[JUnitCase], *, batch_size: int
) -> tuple[dict[str, TestCase], dict[str, TestCase]]:
    """Create a case per testcase, in batches. Returns the cases this import created and those
    another import created meanwhile (a duplicate key: read instead), by key."""
    created: dict[str, TestCase] = {}
    taken: list[str] = []
    collection = TestCase.get_pymongo_collection()
    for start in range(0, len(missing), batch_size):
        documents = [_new_case(case) for case in missing[start : start + batch_size]]
        refused: set[int] = set()
        try:
            await collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                refused.add(error["index"])
        for index, document in enumerate(documents):
            if index in refused:
                taken.append(document["automation_key"])
            else:
                created[document["automation_key"]] = TestCase.model_validate(document)
    found = await _cases_by_key(taken, batch_size=batch_size)
    lost = [key for key in taken if key not in found]
    if lost:  # created by another import, and deleted again, while this one ran
        raise Conflict(
            f"the test case with automation key {lost[0]!r} changed while this import created "
            "it: import the file again"
        )
    return created, found


# -- after writing --------------------------------------------------------------------------------


async def _finished_as_reported(
    run_id: PydanticObjectId, results: Sequence[ResultInput]
) -> TestRun | None:
    """A finished run's times as the report says (it ran then), not as the import ran."""
    started = results[0].started_at
    finished = results[-1].finished_at
    assert started is not None
    assert finished is not None
    raw = await run_service.runs().find_one_and_update(
        {"_id": run_id, "status": {"$in": sorted(RUN_FINISHED)}},
        {
            "$set": {
                "started_at": started,
                "finished_at": finished,
                "duration_ms": int((finished - started).total_seconds() * 1000),
            },
            "$inc": {"version": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else TestRun.model_validate(raw)


def _incomplete(
    run_id: PydanticObjectId, written: int, total: int, first: Any
) -> DatabaseUnavailable | Conflict:
    detail = f"run {run_id} was created, but only {written} of its {total} testcases were imported"
    if first is not None and first.status == 503:
        return DatabaseUnavailable(
            f"{detail} before the database failed: delete the run and import the file again"
        )
    reason = first.detail if first is not None else "unknown"
    return Conflict(f"{detail} ({reason}): delete the run and import the file again")
