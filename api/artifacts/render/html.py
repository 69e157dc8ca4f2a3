"""A run as one self-contained HTML page (inline CSS, no scripts, no external assets).

Rendered by Jinja2 with autoescaping: every name, message and stack is shown as text, whatever
characters it holds. Screenshot thumbnails load from the service's content URL
(`/api/v1/artifacts/screenshots/{id}/content`), so the page shows them while the service is
reachable, and links to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from api.analytics.schemas import SuiteAnalytics
from documents.artifacts import ReportSummary
from documents.executions import TestExecution, TestRun

TEMPLATES = Path(__file__).parent.parent / "templates"
SCREENSHOT_CONTENT = "/api/v1/artifacts/screenshots/{id}/content"
"""Where a screenshot's bytes are served."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One execution's share of the longest duration, as a CSS width in percent."""

    label: str
    status: str
    duration_ms: int
    width: float


@cache
def _template() -> Template:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["moment"] = _moment
    environment.filters["percent"] = _percent
    environment.filters["screenshot"] = lambda id: SCREENSHOT_CONTENT.format(id=id)
    return environment.get_template("report.html.j2")


def _moment(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def bars(executions: Sequence[TestExecution]) -> list[Bar]:
    longest = max((e.duration_ms or 0 for e in executions), default=0)
    return [
        Bar(
            label=f"{e.test_case.name} #{e.attempt}",
            status=e.status.value,
            duration_ms=e.duration_ms or 0,
            width=round(100 * (e.duration_ms or 0) / longest, 2) if longest else 0.0,
        )
        for e in executions
    ]


@dataclass(frozen=True, slots=True)
class RunSection:
    """What the page shows of one run."""

    run: TestRun
    summary: ReportSummary
    pass_rate: str
    executions: Sequence[TestExecution]
    bars: list[Bar]


def section(
    run: TestRun, executions: Sequence[TestExecution], summary: ReportSummary
) -> RunSection:
    return RunSection(
        run=run,
        summary=summary,
        pass_rate=f"{summary.pass_rate * 100:.1f}",
        executions=executions,
        bars=bars(executions),
    )


def render_html_runs(
    title: str,
    sections: Sequence[RunSection],
    *,
    generated_at: datetime,
    analytics: SuiteAnalytics | None = None,
) -> str:
    """A page of several runs (a suite's recent runs, newest first, after their figures)."""
    return _template().render(
        title=title, sections=sections, generated_at=generated_at, analytics=analytics
    )


def render_html(
    run: TestRun,
    executions: Sequence[TestExecution],
    *,
    summary: ReportSummary,
    generated_at: datetime,
) -> str:
    """One run's page."""
    title = f"Run {run.name}: {run.status.value}"
    return render_html_runs(title, [section(run, executions, summary)], generated_at=generated_at)
