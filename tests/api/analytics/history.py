"""A generator of run history whose figures are known in advance, for the analytics tests.

A `History` is written through the API as a runner would report it: each run is created with
its cases (`POST /executions/runs`), every result of the run is reported in one
`POST /executions/bulk` (status, times, duration, error, step results), and retries are later
attempts. Then the run is moved to the moment it says it was opened (`at`): the only direct
write, standing for history that took weeks to happen (the run's `created_at` and the copy of it
in its executions' `run.created_at`).

Outcomes are written per case as letters, one per attempt: `P` passed, `F` failed, `E` error,
`S` skipped, `C` cancelled. `"FP"` is a failure then a passing retry in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.executions.helpers import EXECUTIONS, RUNS, create_case, create_suite

STATUSES = {"P": "passed", "F": "failed", "E": "error", "S": "skipped", "C": "cancelled"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday morning: the default moment of the first run."""


@dataclass(frozen=True)
class Result:
    """One case's outcome in a run: letters per attempt, durations per attempt (ms), the error
    message of each failing attempt, optionally which step failed (by index), and the
    durations of its steps (ms, by index; the same in every attempt; default 100 each)."""

    outcome: str
    durations: tuple[int, ...] = ()
    message: str = "Timeout 5000ms exceeded waiting for #submit"
    failed_step: int = 1
    step_durations: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    """A run opened at `at`, with its cases' results (by case name) and CI facts."""

    at: datetime
    results: dict[str, Result | str]
    suite: str | None = None
    branch: str | None = "main"
    trigger: str = "ci"
    environment_id: str | None = None
    browser_configuration_id: str | None = None


@dataclass
class Written:
    """What `write_history` created: cases and suites by name, run ids in order."""

    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)

    def case_id(self, name: str) -> str:
        return str(self.cases[name]["id"])


def days(n: float) -> timedelta:
    return timedelta(days=n)


async def make_cases(
    client: httpx.AsyncClient, names: list[str], *, tags: dict[str, list[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Active two-step cases by name, with the tags given per name."""
    tags = tags or {}
    return {name: await create_case(client, name, tags=tags.get(name, [])) for name in names}


async def write_history(
    client: httpx.AsyncClient,
    db: AsyncDatabase[Any],
    runs: list[RunSpec],
    *,
    cases: dict[str, dict[str, Any]] | None = None,
    suites: dict[str, list[str]] | None = None,
    tags: dict[str, list[str]] | None = None,
) -> Written:
    """Create the cases the runs name (unless given), the suites (name: case names), then
    every run in order."""
    written = Written()
    names = sorted({name for run in runs for name in run.results})
    written.cases = dict(cases) if cases else await make_cases(client, names, tags=tags)
    for suite_name, members in (suites or {}).items():
        ids = [written.case_id(name) for name in members]
        written.suites[suite_name] = await create_suite(client, suite_name, ids)
    for spec in runs:
        written.runs.append(await write_run(client, db, spec, written))
    return written


async def write_run(
    client: httpx.AsyncClient, db: AsyncDatabase[Any], spec: RunSpec, written: Written
) -> str:
    body: dict[str, Any] = {
        "name": f"run at {spec.at.isoformat()}",
        "trigger": spec.trigger,
        "test_case_ids": [written.case_id(name) for name in spec.results],
    }
    if spec.suite is not None:
        body["suite_id"] = written.suites[spec.suite]["id"]
    if spec.branch is not None:
        body["branch"] = spec.branch
    for key in ("environment_id", "browser_configuration_id"):
        if getattr(spec, key) is not None:
            body[key] = getattr(spec, key)
    if spec.suite is not None:
        # The suite's cases come with it; the results name the ones reported.
        body.pop("test_case_ids")
    response = await client.post(RUNS, json=body)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    results: list[dict[str, Any]] = []
    clock = spec.at
    for name, given in spec.results.items():
        result = Result(given) if isinstance(given, str) else given
        case = written.cases[name]
        for attempt, letter in enumerate(result.outcome, start=1):
            duration = result.durations[attempt - 1] if result.durations else 1000
            started = clock
            clock = started + timedelta(milliseconds=duration)
            item: dict[str, Any] = {
                "run_id": run_id,
                "test_case_id": case["id"],
                "attempt": attempt,
                "status": STATUSES[letter],
                "started_at": started.isoformat(),
                "finished_at": clock.isoformat(),
                "duration_ms": duration,
            }
            if letter in "FE":
                item["error"] = {"message": result.message}
            if letter in "PFE":
                item["steps"] = _steps(case, letter, result, started)
            results.append(item)
    if results:
        response = await client.post(f"{EXECUTIONS}/bulk", json={"results": results})
        assert response.status_code == 200, response.text
        outcomes = response.json()["results"]
        assert all(outcome["status"] in ("created", "updated") for outcome in outcomes), outcomes
    await move_run(db, run_id, spec.at)
    return run_id


def _steps(
    case: dict[str, Any], letter: str, result: Result, started: datetime
) -> list[dict[str, Any]]:
    """Step results agreeing with the outcome: all passed, or passed up to the failing step."""
    steps: list[dict[str, Any]] = []
    for index, step in enumerate(case["steps"]):
        if letter == "P" or index < result.failed_step:
            status = "passed"
        elif index == result.failed_step:
            status = "failed"
        else:
            status = "skipped"
        duration = result.step_durations[index] if result.step_durations else 100
        item: dict[str, Any] = {"step_id": step["id"], "status": status, "duration_ms": duration}
        if status == "failed":
            item["error"] = {"message": result.message}
        steps.append(item)
    return steps


async def move_run(db: AsyncDatabase[Any], run_id: str, at: datetime) -> None:
    """The run was opened at `at` (and its executions say so)."""
    run = ObjectId(run_id)
    await db["test_runs"].update_one({"_id": run}, {"$set": {"created_at": at}})
    await db["test_executions"].update_many({"run_id": run}, {"$set": {"run.created_at": at}})
