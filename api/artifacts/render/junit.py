"""A run as JUnit XML, as Jenkins, GitLab and GitHub's test-report actions read it.

One `<testsuites>` around one `<testsuite>` (the run), one `<testcase>` per execution, in the
order given (oldest first). A case whose `automation_key` is `classname::name` is written with
that classname and name (split at the last `::`), so importing the report through
`POST /executions/runs/import` finds the same test case; any other case has the run's name as
classname and its own name.

Every attempt is a `<testcase>` of the same classname and name (a retried case appears once per
attempt, in attempt order; the attempt is a testcase `<property>`): the import reads a repeated
testcase as the next attempt, so the imported run has the same executions and counters as this
one. JUnit has no status for an execution that did not finish: queued, running and cancelled
executions are written as `<skipped>` with the status as message.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from documents.executions import ExecutionError, ExecutionStatus, TestExecution, TestRun

NOT_RUN = frozenset({ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED})
_OUTCOME_TAGS = {ExecutionStatus.FAILED: "failure", ExecutionStatus.ERROR: "error"}
# Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])


def _text(value: str) -> str:
    return value.translate(_NOT_XML)


def case_names(execution: TestExecution, *, suite: str) -> tuple[str, str]:
    """The testcase's `classname` and `name`."""
    key = execution.test_case.automation_key
    if key and "::" in key:
        classname, _, name = key.rpartition("::")
        if classname.strip() and name.strip():
            return classname, name
    return suite, execution.test_case.name


def _seconds(duration_ms: int | None) -> str:
    return f"{(duration_ms or 0) / 1000:.3f}"


def _outcome(case: Element, execution: TestExecution) -> None:
    status = execution.status
    if status in _OUTCOME_TAGS:
        error = execution.error or ExecutionError(message=status.value)
        element = SubElement(case, _OUTCOME_TAGS[status], message=_text(error.message))
        if error.type:
            element.set("type", _text(error.type))
        element.text = _text(error.stack or error.message)
    elif status is ExecutionStatus.SKIPPED:
        reason = execution.error.message if execution.error else None
        skipped = SubElement(case, "skipped")
        if reason:
            skipped.set("message", _text(reason))
    elif status in NOT_RUN:
        SubElement(case, "skipped", message=f"not run: {status.value}")


def _suite(root: Element, run: TestRun, executions: Iterable[TestExecution]) -> dict[str, int]:
    """The run's `<testsuite>` in `root`; its counts (tests, failures, errors, skipped, time)."""
    suite = SubElement(root, "testsuite", name=_text(run.name))
    if run.started_at is not None:
        suite.set("timestamp", run.started_at.isoformat())
    properties = SubElement(suite, "properties")
    for name in ("branch", "commit", "build_url", "requested_by"):
        value = getattr(run, name)
        if value:
            SubElement(properties, "property", name=name, value=_text(value))
    SubElement(properties, "property", name="run_id", value=str(run.id))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time_ms": 0}
    for execution in executions:
        classname, name = case_names(execution, suite=run.name)
        case = SubElement(
            suite,
            "testcase",
            classname=_text(classname),
            name=_text(name),
            time=_seconds(execution.duration_ms),
        )
        if execution.attempt > 1:
            attempt = SubElement(case, "properties")
            SubElement(attempt, "property", name="attempt", value=str(execution.attempt))
        _outcome(case, execution)
        counts["tests"] += 1
        counts["failures"] += execution.status is ExecutionStatus.FAILED
        counts["errors"] += execution.status is ExecutionStatus.ERROR
        counts["skipped"] += execution.status is ExecutionStatus.SKIPPED or (
            execution.status in NOT_RUN
        )
        counts["time_ms"] += execution.duration_ms or 0
    _set_counts(suite, counts)
    return counts


def _set_counts(element: Element, counts: dict[str, int]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))
    element.set("time", _seconds(counts["time_ms"]))


def render_junit_runs(name: str, runs: Iterable[tuple[TestRun, Iterable[TestExecution]]]) -> str:
    """The XML document (with its declaration), indented: a `<testsuite>` per run."""
    root = Element("testsuites", name=_text(name))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped", "time_ms"), 0)
    for run, executions in runs:
        for key, value in _suite(root, run, executions).items():
            totals[key] += value
    _set_counts(root, totals)
    indent(root)
    body = tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def render_junit(run: TestRun, executions: Iterable[TestExecution]) -> str:
    """One run's report."""
    return render_junit_runs(run.name, [(run, executions)])
