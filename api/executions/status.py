"""The status machine of executions, and what finished means for executions and runs.

    queued -> running -> passed | failed | error | skipped
    queued | running -> cancelled

A terminal execution never changes again. Reports of finished results (`/executions/bulk`,
imports) may take a queued execution straight to a terminal status: it ran, and the report says
how it ended.
"""

from __future__ import annotations

from documents.executions import ExecutionStatus, RunStatus

TERMINAL: frozenset[ExecutionStatus] = frozenset(
    {
        ExecutionStatus.PASSED,
        ExecutionStatus.FAILED,
        ExecutionStatus.ERROR,
        ExecutionStatus.SKIPPED,
        ExecutionStatus.CANCELLED,
    }
)
"""Execution statuses that never change."""

ACTIVE: frozenset[ExecutionStatus] = frozenset({ExecutionStatus.QUEUED, ExecutionStatus.RUNNING})
"""Execution statuses a run waits on before it finishes."""

FAILING: frozenset[ExecutionStatus] = frozenset({ExecutionStatus.FAILED, ExecutionStatus.ERROR})
"""Latest-attempt statuses that make a run `failed`."""

RUN_FINISHED: frozenset[RunStatus] = frozenset(
    {RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED}
)
"""Run statuses that never change."""

_NEXT: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.QUEUED: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}),
    ExecutionStatus.RUNNING: TERMINAL,
}


def allowed(current: ExecutionStatus, new: ExecutionStatus, *, reported: bool = False) -> bool:
    """Whether an execution may go from `current` to `new` (a different status).

    `reported`: a report of a finished result, which may take a queued execution straight to
    any status a running one may take.
    """
    if current == new:
        return False
    reachable = _NEXT.get(current, frozenset())
    if reported and current is ExecutionStatus.QUEUED:
        reachable = reachable | _NEXT[ExecutionStatus.RUNNING]
    return new in reachable


def refusal(current: ExecutionStatus, new: ExecutionStatus) -> str:
    """Why `current -> new` is refused, naming both states and what is possible instead."""
    if current in TERMINAL:
        return f"the execution is {current.value}, which is final: it cannot become {new.value}"
    options = ", ".join(sorted(status.value for status in _NEXT[current]))
    return (
        f"an execution cannot go from {current.value} to {new.value}; from {current.value} it "
        f"can become {options}"
    )
