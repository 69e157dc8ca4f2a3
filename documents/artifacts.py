"""Artifacts: screenshot metadata (bytes in GridFS), log entries, generated reports."""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from beanie import PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from documents.base import TimestampedDocument, sort_indexes, utcnow
from documents.executions import RunCounters

LOG_RETENTION_SECONDS = 30 * 24 * 60 * 60  # 30 days
SCREENSHOT_BUCKET = "screenshots"
"""The GridFS bucket of screenshots' bytes (`screenshots.files`, `screenshots.chunks`)."""
REPORT_BUCKET = "reports"
"""The GridFS bucket of reports too large to keep inline."""
GRIDFS_BUCKETS = (SCREENSHOT_BUCKET, REPORT_BUCKET)
GRIDFS_COLLECTIONS = tuple(
    f"{bucket}.{part}" for bucket in GRIDFS_BUCKETS for part in ("files", "chunks")
)
"""The collections the GridFS buckets keep their files in (created as files are stored)."""


class Screenshot(TimestampedDocument):
    """Metadata of one screenshot. Identical bytes share one GridFS file (`file_id`, by sha256)."""

    execution_id: PydanticObjectId
    run_id: PydanticObjectId
    step_id: str | None = None
    step_order: int | None = Field(default=None, ge=0)
    file_id: PydanticObjectId
    filename: str | None = None
    content_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    taken_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "screenshots"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("run_id", ASCENDING)], name="run_id"),
            IndexModel([("sha256", ASCENDING)], name="sha256"),
            # m0007: every list order, alone, within an execution and within a run.
            *sort_indexes("taken_at"),
            *sort_indexes("taken_at", equal="execution_id"),
            *sort_indexes("taken_at", equal="run_id"),
        ]


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class LogSource(StrEnum):
    BROWSER = "browser"
    NETWORK = "network"
    DRIVER = "driver"
    RUNNER = "runner"


class LogEntry(TimestampedDocument):
    """One log line. Every entry belongs to a run; runner-level lines may have no execution."""

    run_id: PydanticObjectId
    execution_id: PydanticObjectId | None = None
    step_order: int | None = Field(default=None, ge=0)
    level: LogLevel = LogLevel.INFO
    source: LogSource = LogSource.RUNNER
    message: str
    timestamp: datetime = Field(default_factory=utcnow)
    context: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "log_entries"
        indexes: ClassVar[list[IndexModel]] = [
            # The list orders (m0007): by time, alone, within an execution and within a run.
            *sort_indexes("timestamp"),
            *sort_indexes("timestamp", equal="execution_id"),
            *sort_indexes("timestamp", equal="run_id"),
            IndexModel([("level", ASCENDING), ("timestamp", DESCENDING)], name="level_timestamp"),
            # Retention: MongoDB removes an entry 30 days after its `timestamp` by default;
            # `jbts migrate up` sets the days of JBTS_LOG_RETENTION_DAYS (m0007's `reconcile`).
            IndexModel(
                [("timestamp", ASCENDING)],
                name="ttl_timestamp",
                expireAfterSeconds=LOG_RETENTION_SECONDS,
            ),
        ]


class ReportFormat(StrEnum):
    JSON = "json"
    JUNIT = "junit"
    HTML = "html"


class ReportSummary(RunCounters):
    """The run's counters when the report was generated, plus its pass rate and duration."""

    pass_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    duration_ms: int | None = Field(default=None, ge=0)


class TestReport(TimestampedDocument):
    """A generated report: `content` inline when small, else a GridFS file `content_file_id`."""

    __test__ = False  # not a pytest test class

    run_id: PydanticObjectId
    format: ReportFormat
    summary: ReportSummary = Field(default_factory=ReportSummary)
    generated_at: datetime = Field(default_factory=utcnow)
    size: int = Field(default=0, ge=0)
    content: str | None = None
    content_file_id: PydanticObjectId | None = None

    class Settings:
        name = "test_reports"
        indexes: ClassVar[list[IndexModel]] = [
            # m0007: every list order, alone and within a run (they replace `run_generated` and
            # `generated_at`).
            *sort_indexes("generated_at"),
            *sort_indexes("generated_at", equal="run_id"),
        ]
