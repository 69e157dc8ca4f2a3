"""The benchmark's results: a JSON document and a Rich table."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from scripts.bench.measure import OperationResult

NOTES = [
    "latency: the request's time through the in-process app (httpx ASGI transport), no network",
    "database: the summed durations of the request's database commands (PyMongo command "
    "monitoring: from sending a command to its reply)",
    "service: latency minus database, the API's own work",
    "round_trips: the most database commands any one request sent",
    "raw: the same answer fetched or written with PyMongo directly (raw.query); ratio = "
    "latency p50 / raw latency p50",
    "each operation ran once unmeasured first (bulk writes excepted); requests and their raw "
    "equivalents alternate",
    "before each request the write gate's schema version is read, outside the measured time: "
    "the app reads it at most every 5 s for all requests, so no single request pays for it; "
    "app_commands_outside_requests lists those reads and whatever else the app's client sent "
    "between requests",
    "created cases are deleted after each rep, outside the measured time, so collections keep "
    "their seeded size; a step appended is removed again the same way",
    "targets are for the embedded engine at size medium; they are reported, never enforced",
]


@dataclass(frozen=True, slots=True)
class Report:
    date: str
    size: str
    seed: int
    reps: int
    machine: dict[str, Any]
    database: dict[str, Any]
    seeded: dict[str, Any]
    picks: dict[str, Any]
    operations: list[OperationResult]
    app_commands_outside_requests: dict[str, int]
    app_log: list[str]
    notes: tuple[str, ...] = tuple(NOTES)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        for operation, result in zip(document["operations"], self.operations, strict=True):
            operation["ok"] = result.ok
        return document


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


LEGEND = (
    "Times in ms; db, svc and raw are p50s. db: time in database commands; svc: the service's "
    "own time (latency minus db); rt: database round trips (the most per request); raw: the "
    "same work with PyMongo directly; x raw: p50 / raw. Targets: embedded engine, size medium."
)


TABLE_WIDTH = 120
"""Wide enough for every column on one line: the table's width when the output is a file."""


def table(report: Report, *, title: str) -> Table:
    grid = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption=LEGEND)
    grid.caption_justify = "left"
    grid.add_column("operation", min_width=12, overflow="fold")
    for heading in ("reps", "p50", "p95", "max", "db", "svc", "rt", "raw", "x raw"):
        grid.add_column(heading, justify="right", no_wrap=True)
    grid.add_column("target", min_width=8, overflow="fold")
    grid.add_column("", no_wrap=True)
    for result in report.operations:
        latency = result.latency_ms
        grid.add_row(
            result.name,
            str(result.reps),
            _ms(latency.p50),
            _ms(latency.p95),
            _ms(latency.max),
            _ms(result.database_ms.p50),
            _ms(result.service_ms.p50),
            str(result.round_trips),
            _ms(result.raw.latency_ms.p50),
            "-" if result.ratio is None else f"{result.ratio:.1f}",
            result.target,
            "[green]ok[/]" if result.ok else "[red]over[/]",
        )
    return grid
