"""A run as one self-contained HTML page (inline CSS, no scripts, no external assets).

Rendered by Jinja2 with autoescaping: every name, message and stack is shown as text, whatever
characters it holds. Screenshot thumbnails are embedded as `data:` URIs
(`api.artifacts.thumbnails`), so the page shows them offline and without an API key; each links
to the screenshot's absolute content URL, built from the base URL of the request that made the
report. A screenshot without a thumbnail (gone, undecodable, past the cap) is that link only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from bson import ObjectId
from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from api.analytics.schemas import SuiteAnalytics
from documents.artifacts import ReportSummary
from documents.executions import TestExecution, TestRun

TEMPLATES = Path(__file__).parent.parent / "templates"
SCREENSHOT_CONTENT = "api/v1/artifacts/screenshots/{id}/content"
"""Where a screenshot's bytes are served, relative to the service's base URL."""


@dataclass(frozen=True, slots=True)
class Screenshots:
    """How the page shows screenshots: links under `base_url` (the service's, ending in `/`),
    and the thumbnails made (`data:` URIs by screenshot id)."""

    base_url: str
    thumbnails: Mapping[ObjectId, str]

    def url(self, id: ObjectId) -> str:
        return self.base_url + SCREENSHOT_CONTENT.format(id=id)

    def thumbnail(self, id: ObjectId) -> str | None:
        return self.thumbnails.get(id)


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
    screenshots: Screenshots,
    analytics: SuiteAnalytics | None = None,
) -> str:
    """A page of several runs (a suite's recent runs, newest first, after their figures)."""
    return _template().render(
        title=title,
        sections=sections,
        generated_at=generated_at,
        screenshots=screenshots,
        analytics=analytics,
    )


def render_html(
    run: TestRun,
    executions: Sequence[TestExecution],
    *,
    summary: ReportSummary,
    generated_at: datetime,
    screenshots: Screenshots,
) -> str:
    """One run's page."""
    title = f"Run {run.name}: {run.status.value}"
    sections = [section(run, executions, summary)]
    return render_html_runs(title, sections, generated_at=generated_at, screenshots=screenshots)


def shown_screenshots(executions: Sequence[TestExecution]) -> list[ObjectId]:
    """The ids of the screenshots the page shows, in its order (repeats included)."""
    return [
        id for execution in executions for step in execution.steps for id in step.screenshot_ids
    ]
