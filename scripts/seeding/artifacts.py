"""Artifacts of the seeded runs: screenshots (GridFS bucket `screenshots`), log lines, reports.

Screenshots: every failed or errored step has one, taken when the step ended, and about a third
of the passed `screenshot` steps keep theirs; each is listed in its step's `screenshot_ids`
(`plan_screenshots`, called as the executions are written). The images are small real PNGs
(64x40), one per kind of page a failure shows: a failure's image follows from its signature, so
every failure of a broken case, and others alike, share identical bytes, stored once. The files
follow the storage rules of `api.artifacts.screenshot_service` exactly: one GridFS file per
distinct SHA-256, `metadata.refs` = how many screenshots point at it, `metadata.sha256` and
`metadata.content_type`, in GridFS's own format (chunks of `CHUNK_SIZE`).

Log lines: for the executions of the latest `SeedSize.logged_runs` runs (what a retention keeps),
what a runner writes: the start on its worker, the browser launched, the page loads, console
messages, and for a failure its warnings and the error with its message,
each timestamped within the execution's start and finish. Lines older than the database's log
retention (its TTL index) would be deleted at once: they are not written, and the seed says so.

Reports: a JSON report of each of the latest `SeedSize.reported_runs` runs, rendered by the
service's own renderer; inline up to the default `report_inline_bytes`, else a file of the GridFS
bucket `reports`, as `POST /artifacts/reports` stores it.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from beanie import PydanticObjectId
from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts import report_service, screenshot_service
from api.artifacts.render.common import summary_of
from api.artifacts.report_schemas import EXTENSIONS
from api.settings import Settings
from documents.artifacts import LogEntry, LogLevel, LogSource, ReportFormat, Screenshot, TestReport
from documents.executions import ExecutionStatus, StepStatus, TestExecution, TestRun
from documents.test_defs import StepAction
from scripts.seeding.context import Prepared, SeedContext, Seeder, build

WIDTH, HEIGHT = 64, 40
CHUNK_SIZE = screenshot_service.CHUNK_SIZE
PASSED_SHOT_CHANCE = 0.3
"""Of the passed `screenshot` steps, how many keep their image."""
LOG_TTL_INDEX = "ttl_timestamp"

# (name, background, stripe): what the page looked like.
FAILURE_PAGES = (
    ("error-page", (204, 51, 51), (255, 255, 255)),
    ("blank-page", (255, 255, 255), (230, 230, 230)),
    ("login-redirect", (40, 90, 170), (250, 250, 250)),
    ("cookie-banner", (250, 250, 250), (40, 40, 40)),
    ("spinner", (245, 245, 245), (120, 160, 220)),
)
PASSED_PAGES = (
    ("checkout", (250, 250, 250), (60, 150, 80)),
    ("dashboard", (236, 240, 245), (50, 70, 110)),
    ("search-results", (255, 255, 255), (200, 120, 40)),
)


# -- images --------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, pixels: bytes, *, level: int = 9) -> bytes:
    """A PNG of 8-bit RGB `pixels` (`height` rows of `width` pixels), compressed at `level`."""
    stride = width * 3
    rows = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, level))
        + _chunk(b"IEND", b"")
    )


@cache
def png(background: tuple[int, int, int], stripe: tuple[int, int, int]) -> bytes:
    """A 64x40 PNG: `background`, with a header bar and lines of `stripe` (a page's shape)."""
    pixels = bytearray()
    for y in range(HEIGHT):
        bar = y < 6
        line = y > 10 and y % 6 == 0
        for x in range(WIDTH):
            colour = stripe if bar or (line and 4 <= x < WIDTH - 4 - (y % 5) * 6) else background
            pixels += bytes(colour)
    return encode_png(WIDTH, HEIGHT, bytes(pixels))


@cache
def images() -> dict[str, bytes]:
    """Every image a screenshot may have, by its SHA-256."""
    pages = (*FAILURE_PAGES, *PASSED_PAGES)
    found = {}
    for _, background, stripe in pages:
        data = png(background, stripe)
        found[hashlib.sha256(data).hexdigest()] = data
    return found


# -- screenshots ---------------------------------------------------------------------------------


def _page_for(signature: str | None) -> tuple[str, tuple[int, int, int], tuple[int, int, int]]:
    """The same failure always shows the same page (so its screenshots share their bytes)."""
    digest = hashlib.sha256((signature or "").encode()).digest()
    return FAILURE_PAGES[digest[0] % len(FAILURE_PAGES)]


def plan_screenshots(context: SeedContext, execution: TestExecution) -> None:
    """Plan the screenshots of the execution's failed steps (and some passed `screenshot` steps),
    listing each in its step's `screenshot_ids`."""
    assert execution.id is not None
    for step in execution.steps:
        if step.finished_at is None:
            continue
        if step.status in (StepStatus.FAILED, StepStatus.ERROR):
            name, background, stripe = _page_for(step.error.signature if step.error else None)
        elif (
            step.status is StepStatus.PASSED
            and step.action is StepAction.SCREENSHOT
            and context.chance(PASSED_SHOT_CHANCE)
        ):
            name, background, stripe = context.rng.choice(PASSED_PAGES)
        else:
            continue
        data = png(background, stripe)
        sha256 = hashlib.sha256(data).hexdigest()
        taken_at = step.finished_at
        screenshot = build(
            Screenshot,
            id=context.object_id(taken_at),
            created_at=taken_at,
            execution_id=execution.id,
            run_id=execution.run_id,
            step_id=step.step_id,
            step_order=step.order,
            file_id=context.keyed_id(f"screenshot:{sha256}", taken_at),
            filename=f"step-{step.order}-{name}.png",
            content_type="image/png",
            size=len(data),
            sha256=sha256,
            width=WIDTH,
            height=HEIGHT,
            taken_at=taken_at,
        )
        step.screenshot_ids.append(screenshot.id)  # type: ignore[arg-type]
        context.plan(screenshot)


def _gridfs_file(
    context: SeedContext,
    file_id: PydanticObjectId,
    data: bytes,
    *,
    filename: str,
    uploaded: datetime,
    metadata: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A GridFS files document and its chunks, as a driver writes them."""
    chunks = [
        {
            "_id": context.object_id(uploaded),
            "files_id": file_id,
            "n": n,
            "data": Binary(data[at : at + CHUNK_SIZE]),
        }
        for n, at in enumerate(range(0, len(data), CHUNK_SIZE))
    ]
    document = {
        "_id": file_id,
        "length": len(data),
        "chunkSize": CHUNK_SIZE,
        "uploadDate": uploaded,
        "filename": filename,
        "metadata": metadata,
    }
    return document, chunks


async def prepare_screenshots(context: SeedContext, db: AsyncDatabase[Any]) -> Prepared:
    """One GridFS file per distinct image, its `refs` the screenshots that point at it."""
    by_sha: dict[str, list[Screenshot]] = defaultdict(list)
    for screenshot in context.planned(Screenshot):
        by_sha[screenshot.sha256].append(screenshot)
    files, chunks = [], []
    for sha256, shots in sorted(by_sha.items()):
        first = min(shots, key=lambda shot: shot.taken_at)
        document, pieces = _gridfs_file(
            context,
            first.file_id,
            images()[sha256],
            filename=first.filename or "screenshot",
            uploaded=first.taken_at,
            metadata={"content_type": "image/png", "refs": len(shots), "sha256": sha256},
        )
        files.append(document)
        chunks += pieces
    return Prepared(raw=await _bucket(db, screenshot_service.BUCKET, files, chunks))


async def _bucket(
    db: AsyncDatabase[Any], name: str, files: list[dict[str, Any]], chunks: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The bucket's documents to write, chunks first; its indexes as a driver creates them."""
    if files:
        await db[f"{name}.files"].create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        await db[f"{name}.chunks"].create_index(
            [("files_id", ASCENDING), ("n", ASCENDING)], unique=True
        )
    return {f"{name}.chunks": chunks, f"{name}.files": files} if files else {}


def screenshots(context: SeedContext) -> Iterator[Screenshot]:
    yield from context.take_planned(Screenshot)


# -- logs ----------------------------------------------------------------------------------------


def _latest_runs(context: SeedContext, count: int) -> list[TestRun]:
    finished = [run for run in context.seeded(TestRun) if run.finished_at is not None]
    finished.sort(key=lambda run: (run.finished_at, str(run.id)))
    return finished[-count:] if count else []


def _by_run(context: SeedContext) -> dict[PydanticObjectId, list[TestExecution]]:
    grouped: dict[PydanticObjectId, list[TestExecution]] = defaultdict(list)
    for execution in context.seeded(TestExecution):
        grouped[execution.run_id].append(execution)
    return grouped


def _within(moment: datetime, start: datetime, end: datetime) -> datetime:
    return min(max(moment, start), end)


def _lines(context: SeedContext, execution: TestExecution) -> Iterator[dict[str, Any]]:
    """What a runner logs for the execution: (level, source, message, when, step order, context)."""
    rng = context.rng
    start = execution.started_at
    end = execution.finished_at or start
    assert start is not None
    assert end is not None
    case = execution.test_case.name if execution.test_case else "test"
    worker = execution.worker or "runner"

    def line(
        level: LogLevel,
        source: LogSource,
        message: str,
        at: datetime,
        order: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "level": level,
            "source": source,
            "message": message,
            "timestamp": _within(at, start, end),
            "step_order": order,
            "context": extra,
        }

    yield line(
        LogLevel.INFO,
        LogSource.RUNNER,
        f"Starting {case!r} (attempt {execution.attempt}) on {worker}",
        start,
        worker=worker,
        attempt=execution.attempt,
    )
    if execution.status is ExecutionStatus.SKIPPED:
        yield line(LogLevel.INFO, LogSource.RUNNER, "Skipped: marked test.skip() in the spec", end)
        return
    yield line(
        LogLevel.DEBUG,
        LogSource.DRIVER,
        "Launched chromium (headless), new context with viewport 1280x720",
        start + timedelta(milliseconds=rng.randint(20, 120)),
    )
    for step in execution.steps:
        if step.started_at is None:
            continue
        ended = step.finished_at or step.started_at
        target = step.error and step.error.message.splitlines()[0]
        if step.action is StepAction.NAVIGATE and step.status is StepStatus.PASSED:
            took = step.duration_ms or 0
            yield line(
                LogLevel.INFO,
                LogSource.NETWORK,
                f"GET document 200 ({took} ms)",
                ended,
                step.order,
                status=200,
                duration_ms=took,
            )
            if context.chance(0.25):
                yield line(
                    LogLevel.WARNING,
                    LogSource.BROWSER,
                    "[console.warning] Third-party cookies will be blocked in a future release",
                    ended,
                    step.order,
                    console="warning",
                )
        if step.status in (StepStatus.FAILED, StepStatus.ERROR) and step.error is not None:
            halfway = step.started_at + (ended - step.started_at) / 2
            if step.error.type in ("TimeoutError", "AssertionError"):
                yield line(
                    LogLevel.WARNING,
                    LogSource.DRIVER,
                    f"Still waiting after {(step.duration_ms or 0) // 2} ms: {target}",
                    halfway,
                    step.order,
                )
            if "net::" in step.error.message:
                yield line(
                    LogLevel.ERROR,
                    LogSource.NETWORK,
                    target or step.error.message,
                    halfway,
                    step.order,
                )
            if context.chance(0.5):
                yield line(
                    LogLevel.ERROR,
                    LogSource.BROWSER,
                    "[console.error] Uncaught (in promise) TypeError: Failed to fetch",
                    halfway,
                    step.order,
                    console="error",
                )
            yield line(
                LogLevel.ERROR,
                LogSource.RUNNER,
                step.error.message,
                ended,
                step.order,
                type=step.error.type,
                signature=step.error.signature,
            )
    status = execution.status.value
    level = LogLevel.INFO if execution.status is ExecutionStatus.PASSED else LogLevel.ERROR
    yield line(
        level,
        LogSource.RUNNER,
        f"Finished {case!r}: {status} in {execution.duration_ms} ms",
        end,
        status=status,
        duration_ms=execution.duration_ms,
    )


async def _retention(db: AsyncDatabase[Any]) -> timedelta | None:
    """How long the database keeps log lines (its TTL index), if it drops them."""
    indexes = await db[LogEntry.Settings.name].index_information()
    seconds = indexes.get(LOG_TTL_INDEX, {}).get("expireAfterSeconds")
    return None if seconds is None else timedelta(seconds=int(seconds))


async def prepare_logs(context: SeedContext, db: AsyncDatabase[Any]) -> Prepared:
    """Plan the log lines of the latest runs' executions, those the TTL would keep."""
    retention = await _retention(db)
    expired_before = datetime.now(UTC) - retention if retention is not None else None
    executions = _by_run(context)
    dropped = 0
    for run in _latest_runs(context, context.size.logged_runs):
        assert run.id is not None
        for execution in executions[run.id]:
            for fields in _lines(context, execution):
                # Everything random is drawn first: what is dropped changes nothing else.
                at: datetime = fields["timestamp"]
                entry_id = context.object_id(at)
                if expired_before is not None and at < expired_before:
                    dropped += 1
                    continue
                context.plan(
                    build(
                        LogEntry,
                        id=entry_id,
                        created_at=at,
                        run_id=run.id,
                        execution_id=execution.id,
                        **fields,
                    )
                )
    note = None
    if dropped:
        note = (
            f"{dropped} log lines not written: older than the log retention "
            f"({retention.days if retention else 0} days, JBTS_LOG_RETENTION_DAYS), the TTL "
            "index would delete them at once"
        )
    return Prepared(note=note)


def log_entries(context: SeedContext) -> Iterator[LogEntry]:
    yield from context.take_planned(LogEntry)


# -- reports -------------------------------------------------------------------------------------


async def prepare_reports(context: SeedContext, db: AsyncDatabase[Any]) -> Prepared:
    """A JSON report of each of the latest runs, rendered as the service renders one."""
    inline_bytes = Settings.model_fields["report_inline_bytes"].default
    executions = _by_run(context)
    files, chunks = [], []
    for run in _latest_runs(context, context.size.reported_runs):
        assert run.id is not None
        assert run.finished_at is not None
        generated_at = run.finished_at + timedelta(seconds=context.rng.randint(5, 600))
        summary = summary_of(run)
        content = report_service.render(
            ReportFormat.JSON, run, executions[run.id], summary=summary, generated_at=generated_at
        )
        encoded = content.encode()
        report = build(
            TestReport,
            id=context.object_id(generated_at),
            created_at=generated_at,
            run_id=run.id,
            format=ReportFormat.JSON,
            summary=summary,
            generated_at=generated_at,
            size=len(encoded),
        )
        if len(encoded) <= inline_bytes:
            report.content = content
        else:
            assert report.id is not None
            file_id = context.object_id(generated_at)
            document, pieces = _gridfs_file(
                context,
                file_id,
                encoded,
                filename=f"{report.id}.{EXTENSIONS[ReportFormat.JSON]}",
                uploaded=generated_at,
                metadata={"report_id": report.id, "run_id": run.id, "format": "json"},
            )
            files.append(document)
            chunks += pieces
            report.content_file_id = file_id
        context.plan(report)
    return Prepared(raw=await _bucket(db, report_service.BUCKET, files, chunks))


def reports(context: SeedContext) -> Iterator[TestReport]:
    yield from context.take_planned(TestReport)


def _planned(document: type[Any]) -> Any:
    return lambda context: len(context.planned(document))


SEEDERS = (
    Seeder(Screenshot, _planned(Screenshot), screenshots, prepare=prepare_screenshots),
    Seeder(LogEntry, _planned(LogEntry), log_entries, prepare=prepare_logs),
    Seeder(TestReport, _planned(TestReport), reports, prepare=prepare_reports),
)
