"""Test runs and their executions with step results: a year of a team's CI history.

Runs are mostly of suites (CI on every push, nightly schedules, a few started by hand), on `main`
mostly and a few feature branches, each with a commit and a build URL; some run a handful of
cases picked by hand. A run executes each active case of its suite once (attempt 1) on a few
workers; CI and scheduled runs retry a failure once (attempt 2).

Each case has a tendency it keeps from run to run: most pass about 97% of the time, a few are
flaky (a step that times out now and then, and passes on retry), a few are broken (failing at
the same step with the same message every time) and some are skipped. A failure is what a
Playwright or Selenium run reports for that kind of step (timeouts, elements not found,
assertions on text, visibility or the address, network and browser errors), with the signature
the API computes. Step results agree with the execution: the steps before the failing one
passed, the failing step holds the error, the rest were skipped. Durations come from a base per
step of each case, with noise; a run's times span its executions'.

A run's counters are exactly its executions' statuses, and its status is the latest attempt's
of each case: `failed` if any failed or errored, else `passed`. Every run is finished: nothing
pending, every execution's `run_seq` 1. The runs are built with their executions (the counters
need them), so the executions are planned (`SeedContext.plan`) and written by the next seeder.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from api.executions.runs import browser_snapshot, environment_snapshot
from api.executions.service import snapshot
from api.executions.signature import signature
from api.executions.status import FAILING
from documents.configurations import BrowserConfiguration, TestEnvironment
from documents.executions import (
    ExecutionError,
    ExecutionStatus,
    RunFacts,
    RunStatus,
    RunTrigger,
    StepStatus,
    TestExecution,
    TestRun,
)
from documents.test_defs import CaseStatus, StepAction, TestCase, TestStep, TestSuite
from scripts.seeding.context import HISTORY, REFERENCE_TIME, SeedContext, Seeder, Window, build

A = StepAction
S = ExecutionStatus


class Tendency(StrEnum):
    STABLE = "stable"
    FLAKY = "flaky"
    BROKEN = "broken"
    SKIPPED = "skipped"


TENDENCIES = {Tendency.STABLE: 88, Tendency.FLAKY: 6, Tendency.BROKEN: 2, Tendency.SKIPPED: 4}
FAILURE_CHANCE = {  # (first attempt, retry)
    Tendency.STABLE: (0.025, 0.3),
    Tendency.FLAKY: (0.3, 0.12),
    Tendency.BROKEN: (0.92, 0.92),
}
INFRASTRUCTURE_CHANCE = 0.004
"""A browser or grid failure, whatever the case."""
OUTAGE_CHANCE = 0.03
"""A run whose environment was down: most of its cases error at their first page."""
FULL_REGRESSION_SHARE = 0.05
"""Of the suite runs, how many run the first (largest) suite."""
AD_HOC_SHARE = 0.1
"""Runs of a few cases picked by hand rather than a suite."""
SMALL_SUITE = 10
"""Suites of more active cases than this run less often, in proportion (and the embedded
engine's inserts of executions slow down with every one already there: see `SeedSize`)."""
SUITE_TRIGGERS = {RunTrigger.CI: 60, RunTrigger.SCHEDULE: 25, RunTrigger.MANUAL: 15}
AD_HOC_TRIGGERS = {RunTrigger.MANUAL: 1, RunTrigger.API: 1}
WORKERS = {
    RunTrigger.CI: 4,
    RunTrigger.SCHEDULE: 6,
    RunTrigger.MANUAL: 1,
    RunTrigger.API: 2,
    RunTrigger.IMPORT: 1,
}
RETRIES = {RunTrigger.CI: 0.9, RunTrigger.SCHEDULE: 0.9}
"""How likely a run with this trigger retries a failed case once (others never do)."""
LAST = 0.99
"""Runs start before the last few days of the history, so that they end before its end."""
MAIN = "main"
MAIN_SHARE = 0.75
BRANCHES = (
    "feature/checkout-redesign",
    "feature/search-suggestions",
    "fix/login-timeout",
    "feature/saved-cards",
    "fix/cart-rounding",
    "release/2025.12",
)
MEAN_STEP_MS = {
    A.NAVIGATE: 1800,
    A.CLICK: 250,
    A.TYPE: 350,
    A.SELECT: 300,
    A.HOVER: 150,
    A.PRESS: 120,
    A.WAIT: 1200,
    A.ASSERT_TEXT: 180,
    A.ASSERT_VISIBLE: 150,
    A.ASSERT_URL: 100,
    A.SCREENSHOT: 350,
    A.EXECUTE_SCRIPT: 80,
}
EXPECT_TIMEOUT_MS = 5000
"""How long an assertion retries before it fails (Playwright's `expect` default)."""
VERBS = {
    A.CLICK: "click",
    A.TYPE: "fill",
    A.SELECT: "selectOption",
    A.HOVER: "hover",
    A.PRESS: "press",
    A.WAIT: "waitFor",
}
RECEIVED_TEXT = ("", "Loading…", "Something went wrong", "Sign in", "0 results", "undefined")
INFRASTRUCTURE = (
    ("TargetClosedError", "Target page, context or browser has been closed"),
    ("WebDriverException", "Message: unknown error: chrome not reachable"),
    ("Error", "browserType.launch: Timeout 180000ms exceeded."),
    (
        "SessionNotCreatedException",
        "Message: session not created: This version of ChromeDriver only supports Chrome "
        "version 131\nCurrent browser version is 132.0.6834.84",
    ),
)
NETWORK = ("ERR_CONNECTION_REFUSED", "ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_RESET")


# -- failures ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """How a step failed: the execution's status, the error, and how long the step took
    (`waited_ms`: a timeout's wait; None: the step's usual time)."""

    status: ExecutionStatus
    type: str
    message: str
    stack: str | None = None
    actual_value: str | None = None
    waited_ms: int | None = None

    def error(self) -> ExecutionError:
        return ExecutionError(
            message=self.message,
            type=self.type,
            stack=self.stack,
            signature=signature(self.message, self.type),
        )


def _stack(context: SeedContext, case: TestCase) -> str:
    area = case.tags[0] if case.tags else "app"
    line, column = context.rng.randint(12, 240), context.rng.randint(5, 40)
    return (
        f"    at tests/e2e/{area}.spec.ts:{line}:{column}\n"
        "    at runTest (node_modules/@playwright/test/lib/worker.js:412:9)"
    )


def _network(context: SeedContext, url: str) -> Failure:
    code = context.rng.choice(NETWORK)
    return Failure(S.ERROR, "Error", f"page.goto: net::{code} at {url}")


def _infrastructure(context: SeedContext) -> Failure:
    kind, message = context.rng.choice(INFRASTRUCTURE)
    return Failure(S.ERROR, kind, message)


def _expectation(what: str, details: str, received: str, stack: str) -> Failure:
    """A Playwright assertion that kept failing until its timeout."""
    return Failure(
        S.FAILED,
        "AssertionError",
        f"Timed out {EXPECT_TIMEOUT_MS}ms waiting for {what}\n\n{details}",
        stack,
        actual_value=received,
        waited_ms=EXPECT_TIMEOUT_MS,
    )


def step_failure(context: SeedContext, case: TestCase, step: TestStep, *, url: str) -> Failure:
    """What a runner reports when `step` fails, for its kind of step."""
    rng = context.rng
    selector = step.selector or "body"
    stack = _stack(context, case)
    timeout = step.timeout_ms
    if step.action is A.NAVIGATE:
        if context.chance(0.5):
            return _network(context, url)
        return Failure(
            S.FAILED,
            "TimeoutError",
            f"page.goto: Timeout {timeout}ms exceeded.\nCall log:\n"
            f'  - navigating to "{url}", waiting until "load"',
            stack,
            waited_ms=timeout,
        )
    if step.action is A.ASSERT_TEXT:
        received = rng.choice(RECEIVED_TEXT)
        expected = step.value or step.expected
        return _expectation(
            "expect(locator).toHaveText(expected)",
            f"Locator: locator('{selector}')\nExpected string: \"{expected}\"\n"
            f'Received string: "{received}"',
            received,
            stack,
        )
    if step.action is A.ASSERT_VISIBLE:
        return _expectation(
            "expect(locator).toBeVisible()",
            f"Locator: locator('{selector}')\nExpected: visible\nReceived: hidden",
            "hidden",
            stack,
        )
    if step.action is A.ASSERT_URL:
        received = f"{url.rstrip('/')}/login?next={rng.choice(['%2Fcart', '%2Faccount', '%2F'])}"
        return _expectation(
            "expect(page).toHaveURL(expected)",
            f'Expected pattern: /{step.value or ""}/\nReceived string: "{received}"',
            received,
            stack,
        )
    if step.action is A.SCREENSHOT:
        return Failure(
            S.ERROR, "Error", "page.screenshot: Target page, context or browser has been closed"
        )
    if step.action is A.EXECUTE_SCRIPT:
        prop = rng.choice(["length", "dataset", "value", "then"])
        return Failure(
            S.FAILED,
            "Error",
            f"page.evaluate: TypeError: Cannot read properties of undefined (reading '{prop}')",
            stack,
        )
    kind = rng.randrange(4 if step.action is A.CLICK else 3)
    if kind == 0:
        verb = VERBS.get(step.action, "click")
        return Failure(
            S.FAILED,
            "TimeoutError",
            f"locator.{verb}: Timeout {timeout}ms exceeded.\nCall log:\n"
            f"  - waiting for locator('{selector}')",
            stack,
            waited_ms=timeout,
        )
    if kind == 1:
        return Failure(
            S.FAILED,
            "NoSuchElementException",
            "Message: no such element: Unable to locate element: "
            f'{{"method":"css selector","selector":"{selector}"}}',
            f'  File "tests/e2e/test_{case.tags[0] if case.tags else "app"}.py", line '
            f"{rng.randint(10, 200)}, in test_flow",
        )
    if kind == 2:
        return Failure(
            S.FAILED,
            "StaleElementReferenceException",
            "Message: stale element reference: stale element not found in the current frame",
        )
    x, y = rng.randint(10, 1200), rng.randint(10, 800)
    return Failure(
        S.FAILED,
        "ElementClickInterceptedException",
        f"Message: element click intercepted: Element is not clickable at point ({x}, {y}). "
        'Other element would receive the click: <div class="cookie-banner">',
    )


# -- what each case tends to do -------------------------------------------------------------------


@dataclass(slots=True)
class Profile:
    """What a case does from run to run: its tendency, each step's usual time, and where (and
    how) it fails when it is broken or flaky."""

    tendency: Tendency
    step_ms: list[int]
    weak_step: int
    broken: Failure | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: ExecutionStatus
    failing_step: int | None = None
    failure: Failure | None = None


@dataclass(slots=True)
class World:
    """What runs are made of: the suites with active cases, configurations, people, and every
    case's profile (made the first time the case runs)."""

    suites: list[TestSuite]
    weights: list[float]
    members: dict[PydanticObjectId, list[TestCase]]
    active: list[TestCase]
    browsers: dict[PydanticObjectId, BrowserConfiguration]
    default_browser: BrowserConfiguration | None
    environments: dict[PydanticObjectId, TestEnvironment]
    live_environments: list[TestEnvironment]
    people: list[str]
    ci_host: str
    profiles: dict[PydanticObjectId, Profile] = field(default_factory=dict)

    @classmethod
    def of(cls, context: SeedContext) -> World:
        rng = context.rng
        cases = {case.id: case for case in context.seeded(TestCase) if case.id is not None}
        active = [case for case in cases.values() if case.status is CaseStatus.ACTIVE]
        suites: list[TestSuite] = []
        members: dict[PydanticObjectId, list[TestCase]] = {}
        for suite in context.seeded(TestSuite):
            chosen = [
                cases[id]
                for id in suite.test_case_ids
                if id in cases and cases[id].status is CaseStatus.ACTIVE
            ]
            if chosen and suite.id is not None:
                suites.append(suite)
                members[suite.id] = chosen
        # A few suites run often, most now and then; small ones (smoke on every push) more often.
        weights = [
            rng.lognormvariate(0, 0.8) * min(1.0, SMALL_SUITE / len(members[suite.id]))
            for suite in suites
            if suite.id is not None
        ]
        if len(suites) > 1 and suites[0].id == context.seeded(TestSuite)[0].id:
            rest = sum(weights[1:])
            weights[0] = rest * FULL_REGRESSION_SHARE / (1 - FULL_REGRESSION_SHARE)
        browsers = [b for b in context.seeded(BrowserConfiguration) if b.id is not None]
        environments = [e for e in context.seeded(TestEnvironment) if e.id is not None]
        return cls(
            suites=suites,
            weights=weights,
            members=members,
            active=active or list(cases.values()),
            browsers={b.id: b for b in browsers if b.id is not None},
            default_browser=next((b for b in browsers if b.is_default), None),
            environments={e.id: e for e in environments if e.id is not None},
            live_environments=[e for e in environments if e.is_active] or environments,
            people=[context.faker.user_name() for _ in range(8)],
            ci_host=f"ci.{context.faker.domain_name()}",
        )

    def profile(self, context: SeedContext, case: TestCase) -> Profile:
        assert case.id is not None
        if case.id not in self.profiles:
            rng = context.rng
            steps = case.steps
            self.profiles[case.id] = Profile(
                tendency=context.weighted(TENDENCIES),
                step_ms=[
                    max(20, round(MEAN_STEP_MS[step.action] * rng.lognormvariate(0, 0.4)))
                    for step in steps
                ],
                weak_step=rng.randrange(1, len(steps)) if len(steps) > 1 else 0,
            )
        return self.profiles[case.id]


def _outcome(
    context: SeedContext, case: TestCase, profile: Profile, *, retry: bool, url: str, outage: bool
) -> Outcome:
    if profile.tendency is Tendency.SKIPPED or not case.steps:
        return Outcome(S.SKIPPED)
    if outage and context.chance(0.7):
        return Outcome(S.ERROR, 0, _network(context, url))
    if context.chance(INFRASTRUCTURE_CHANCE):
        at = context.rng.randrange(len(case.steps))
        return Outcome(S.ERROR, at, _infrastructure(context))
    if not context.chance(FAILURE_CHANCE[profile.tendency][retry]):
        return Outcome(S.PASSED)
    if profile.tendency is Tendency.BROKEN:
        if profile.broken is None:
            step = case.steps[profile.weak_step]
            profile.broken = step_failure(context, case, step, url=url)
        return Outcome(profile.broken.status, profile.weak_step, profile.broken)
    at = (
        profile.weak_step
        if profile.tendency is Tendency.FLAKY
        else context.rng.randrange(len(case.steps))
    )
    failure = step_failure(context, case, case.steps[at], url=url)
    return Outcome(failure.status, at, failure)


# -- runs -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunPlan:
    name: str
    suite: TestSuite | None
    cases: list[TestCase]
    trigger: RunTrigger
    branch: str
    commit: str
    build_url: str | None
    requested_by: str | None
    browser: BrowserConfiguration | None
    environment: TestEnvironment | None
    window: Window


def _fraction(moment: datetime) -> float:
    return min(1.0, max(0.0, (moment - (REFERENCE_TIME - HISTORY)) / HISTORY))


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _plan(context: SeedContext, world: World, number: int) -> RunPlan:
    rng = context.rng
    suite: TestSuite | None = None
    if world.suites and not context.chance(AD_HOC_SHARE):
        suite = rng.choices(world.suites, weights=world.weights)[0]
        assert suite.id is not None
        cases = world.members[suite.id]
        trigger = context.weighted(SUITE_TRIGGERS)
        if suite is world.suites[0] and context.chance(0.8):
            trigger = RunTrigger.SCHEDULE  # the full regression runs nightly
        start = min(_fraction(suite.created_at), LAST)
    else:
        cases = rng.sample(world.active, min(len(world.active), rng.randint(1, 8)))
        trigger = context.weighted(AD_HOC_TRIGGERS)
        start = min(max((_fraction(case.created_at) for case in cases), default=0.0), LAST)
    branch = (
        MAIN
        if trigger is RunTrigger.SCHEDULE or context.chance(MAIN_SHARE)
        else (rng.choice(BRANCHES))
    )
    person = rng.choice(world.people)
    title = suite.name if suite else f"{len(cases)} chosen case{'s' if len(cases) > 1 else ''}"
    build_url = None
    match trigger:
        case RunTrigger.CI:
            name, requested_by = f"{title} - {branch} #{number}", person
            build_url = f"https://{world.ci_host}/job/{_slug(title)}/{number}"
        case RunTrigger.SCHEDULE:
            name, requested_by = f"Nightly {title} #{number}", "scheduler"
            build_url = f"https://{world.ci_host}/job/nightly-{_slug(title)}/{number}"
        case RunTrigger.API:
            name, requested_by = f"Release check: {title}", "release-bot"
        case _:
            name, requested_by = f"{title} (run by {person})", person
    browser = world.default_browser
    if suite is not None and suite.browser_configuration_id in world.browsers:
        browser = world.browsers[suite.browser_configuration_id]
    elif world.browsers and context.chance(0.25):  # a cross-browser run names one
        browser = rng.choice(list(world.browsers.values()))
    environment = None
    if suite is not None and suite.environment_id in world.environments:
        environment = world.environments[suite.environment_id]
    elif world.live_environments and context.chance(0.8):
        environment = rng.choice(world.live_environments)
    return RunPlan(
        name=name,
        suite=suite,
        cases=cases,
        trigger=trigger,
        branch=branch,
        commit=f"{rng.getrandbits(160):040x}",
        build_url=build_url,
        requested_by=requested_by,
        browser=browser,
        environment=environment,
        window=(start, LAST),
    )


def _worker(context: SeedContext, plan: RunPlan) -> str:
    number = context.rng.randint(1, 12)
    match plan.trigger:
        case RunTrigger.CI:
            return f"ci-agent-{number}"
        case RunTrigger.SCHEDULE:
            return f"nightly-runner-{number}"
        case RunTrigger.API:
            return f"grid-node-{number}"
        case _:
            return f"{plan.requested_by or 'qa'}-laptop"


@dataclass(slots=True)
class Workers:
    """When each of a run's workers is free next: an execution goes to the first free one."""

    free: list[datetime]

    def take(self, *, not_before: datetime) -> datetime:
        return max(heapq.heappop(self.free), not_before)

    def release(self, at: datetime) -> None:
        heapq.heappush(self.free, at)


def _ms(start: datetime, milliseconds: int) -> datetime:
    return start + timedelta(milliseconds=milliseconds)


def _steps(
    context: SeedContext, case: TestCase, profile: Profile, outcome: Outcome, start: datetime
) -> tuple[list[dict[str, Any]], datetime]:
    """Each step's result, and when the last one ended (skipped steps did not run)."""
    rng = context.rng
    results: list[dict[str, Any]] = []
    at = start
    for index, step in enumerate(case.steps):
        result: dict[str, Any] = {"step_id": step.id, "order": step.order, "action": step.action}
        ran = outcome.status is not S.SKIPPED and (
            outcome.failing_step is None or index <= outcome.failing_step
        )
        if not ran:
            results.append({**result, "status": StepStatus.SKIPPED})
            continue
        took = round(profile.step_ms[index] * rng.lognormvariate(0, 0.15))
        status = StepStatus.PASSED
        failure = outcome.failure if index == outcome.failing_step else None
        if failure is not None:
            took = failure.waited_ms or took
            status = StepStatus.ERROR if failure.status is S.ERROR else StepStatus.FAILED
        ended = _ms(at, took)
        results.append(
            {
                **result,
                "status": status,
                "started_at": at,
                "finished_at": ended,
                "duration_ms": took,
                "error": failure.error() if failure else None,
                "actual_value": failure.actual_value if failure else None,
            }
        )
        at = _ms(ended, rng.randint(5, 60))  # the runner between steps
    return results, at


def _execution(
    context: SeedContext,
    plan: RunPlan,
    run_id: PydanticObjectId,
    case: TestCase,
    *,
    attempt: int,
    outcome: Outcome,
    created: datetime,
    started: datetime,
    profile: Profile,
) -> TestExecution:
    setup = context.rng.randint(150, 900)  # a browser context and page
    steps, ended = _steps(context, case, profile, outcome, _ms(started, setup))
    if outcome.status is S.SKIPPED:
        ended = _ms(started, context.rng.randint(1, 15))
    duration = round((ended - started).total_seconds() * 1000)
    return build(
        TestExecution,
        id=context.object_id(created),
        created_at=created,
        updated_at=ended,
        run_id=run_id,
        test_case_id=case.id,
        test_case=snapshot(case),
        attempt=attempt,
        status=outcome.status,
        started_at=started,
        finished_at=ended,
        duration_ms=duration,
        error=outcome.failure.error() if outcome.failure else None,
        worker=_worker(context, plan),
        steps=steps,
        run_seq=1,
    )


def _execute(
    context: SeedContext, world: World, plan: RunPlan, run_id: PydanticObjectId, created: datetime
) -> list[TestExecution]:
    """The run's executions: attempt 1 of every case, then a retry of some failures, each on
    the first worker free (a retry once its first attempt has finished)."""
    rng = context.rng
    start = _ms(created, rng.randint(2_000, 90_000))  # waiting for an agent
    workers = Workers(free=[start] * WORKERS[plan.trigger])
    url = (plan.environment.base_url if plan.environment else None) or "https://staging.example.com"
    outage = context.chance(OUTAGE_CHANCE)
    retries = context.chance(RETRIES.get(plan.trigger, 0.0))

    def attempt(case: TestCase, number: int, *, created: datetime) -> TestExecution:
        """Attempt `number` of `case`, on the first worker free once it was created."""
        profile = world.profile(context, case)
        retry = number > 1
        outcome = _outcome(
            context, case, profile, retry=retry, url=url, outage=outage and not retry
        )
        started = workers.take(not_before=max(created, start))
        execution = _execution(
            context,
            plan,
            run_id,
            case,
            attempt=number,
            outcome=outcome,
            created=created,
            started=started,
            profile=profile,
        )
        workers.release(_ms(execution.finished_at or started, rng.randint(20, 400)))
        return execution

    firsts = [attempt(case, 1, created=created) for case in plan.cases]
    retried = [
        attempt(case, 2, created=first.finished_at or start)
        for case, first in zip(plan.cases, firsts, strict=True)
        if retries and first.status in FAILING
    ]
    return firsts + retried


def run_status(executions: Sequence[TestExecution]) -> RunStatus:
    """`failed` if the latest attempt of any case failed or errored, else `passed`."""
    latest: dict[PydanticObjectId, TestExecution] = {}
    for execution in executions:
        known = latest.get(execution.test_case_id)
        if known is None or execution.attempt > known.attempt:
            latest[execution.test_case_id] = execution
    failing = any(execution.status in FAILING for execution in latest.values())
    return RunStatus.FAILED if failing else RunStatus.PASSED


def runs(context: SeedContext) -> Iterator[TestRun]:
    world = World.of(context)
    for number in range(1, context.size.runs + 1):
        plan = _plan(context, world, number + 1000)
        stamp = context.history(plan.window)
        created: datetime = stamp["created_at"]
        run_id: PydanticObjectId = stamp["id"]
        executions = _execute(context, world, plan, run_id, created)
        facts = RunFacts(
            suite_id=plan.suite.id if plan.suite else None,
            environment_id=plan.environment.id if plan.environment else None,
            browser_configuration_id=plan.browser.id if plan.browser else None,
            branch=plan.branch,
            trigger=plan.trigger,
            created_at=created,
        )
        for execution in executions:
            execution.run = facts
            context.plan(execution)
        counts = Counter(execution.status.value for execution in executions)
        started = min((e.started_at for e in executions if e.started_at), default=None)
        finished = max((e.finished_at for e in executions if e.finished_at), default=None)
        yield build(
            TestRun,
            id=run_id,
            created_at=created,
            updated_at=finished or created,
            # Every execution's start and finish moved it (opened and closed a change).
            version=2 + 4 * len(executions),
            name=plan.name,
            suite_id=plan.suite.id if plan.suite else None,
            trigger=plan.trigger,
            status=run_status(executions) if executions else RunStatus.QUEUED,
            browser_configuration_id=plan.browser.id if plan.browser else None,
            environment_id=plan.environment.id if plan.environment else None,
            browser_configuration=browser_snapshot(plan.browser) if plan.browser else None,
            environment=environment_snapshot(plan.environment) if plan.environment else None,
            started_at=started,
            finished_at=finished,
            duration_ms=(
                round((finished - started).total_seconds() * 1000) if started and finished else None
            ),
            counters={**counts, "total": len(executions)},
            build_url=plan.build_url,
            commit=plan.commit,
            branch=plan.branch,
            requested_by=plan.requested_by,
        )


def executions(context: SeedContext) -> Iterator[TestExecution]:
    """The executions planned with the runs, in the order they were planned, each with the
    screenshots its steps list (planned for the artifacts' seeder)."""
    from scripts.seeding.artifacts import plan_screenshots

    for execution in context.take_planned(TestExecution):
        plan_screenshots(context, execution)
        yield execution


SEEDERS = (
    Seeder(TestRun, lambda context: context.size.runs, runs),
    Seeder(TestExecution, lambda context: len(context.planned(TestExecution)), executions),
)
