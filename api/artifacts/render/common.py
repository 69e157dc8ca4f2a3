"""What every renderer shares: the summary of a run."""

from documents.artifacts import ReportSummary
from documents.executions import TestRun


def summary_of(run: TestRun) -> ReportSummary:
    """The run's counters, its pass rate (passed / (passed + failed + error)) and duration."""
    counters = run.counters
    decided = counters.passed + counters.failed + counters.error
    return ReportSummary(
        **counters.model_dump(),
        pass_rate=round(counters.passed / decided, 4) if decided else 0.0,
        duration_ms=run.duration_ms,
    )
