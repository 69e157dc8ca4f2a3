"""Log entries: what a runner sends (a batch of lines) and what a reader gets back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import bson
import bson.errors
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import InputModel, JsonInteger, ObjectIdInput, ObjectIdStr, ReadModel, Timestamp
from documents.artifacts import LogLevel, LogSource

MAX_LOG_BATCH = 5000
"""Entries per `POST /artifacts/logs`."""
MAX_MESSAGE_LENGTH = 16_000
MAX_CONTEXT_BYTES = 16 * 1024
"""The most an entry's `context` may take as stored (BSON): an entry stays small, so that a
batch of 5,000 stays far below what one request may carry."""
MAX_CONTEXT_DEPTH = 10
MAX_STEP_ORDER = 10_000


def _check_keys(value: Any, path: str, depth: int) -> None:
    """Keys MongoDB would read as operators (`$...`) or paths (`a.b`) are refused, at any depth."""
    if depth > MAX_CONTEXT_DEPTH:
        raise ValueError(f"context nests deeper than {MAX_CONTEXT_DEPTH} levels (at {path})")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                raise ValueError(
                    f"context key {key!r} at {path} starts with `$` or holds a `.` (or a NUL): "
                    "MongoDB would read it as an operator or a path; rename it"
                )
            _check_keys(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for index, item in enumerate(value):
            _check_keys(item, f"{path}.{index}", depth + 1)


class LogEntryCreate(InputModel):
    """One log line of a run (and optionally of one of its executions and a step)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "6650f1c2a7b4e3d2c1b0a998",
                    "execution_id": "6650f1c2a7b4e3d2c1b0a997",
                    "step_order": 2,
                    "level": "error",
                    "source": "browser",
                    "message": "Uncaught TypeError: x is undefined",
                    "timestamp": "2026-11-30T09:15:02.120Z",
                    "context": {"url": "https://example.com/login", "line": 17},
                }
            ]
        }
    )

    run_id: ObjectIdInput
    execution_id: ObjectIdInput | None = Field(
        default=None, description="The execution of that run the line belongs to, if any."
    )
    step_order: Annotated[int, Field(ge=0, le=MAX_STEP_ORDER), JsonInteger] | None = None
    level: LogLevel = LogLevel.INFO
    source: LogSource = LogSource.RUNNER
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)
    timestamp: Timestamp | None = Field(
        default=None, description="When it was logged (ISO 8601); default: when it is stored."
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form details, at most {MAX_CONTEXT_BYTES:,} bytes as stored; keys "
        "may not start with `$` or contain `.`.",
    )

    @field_validator("context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_keys(value, "context", 0)
        try:
            size = len(bson.encode({"context": value}))
        except (OverflowError, bson.errors.BSONError, UnicodeEncodeError) as exc:
            # An integer beyond 64 bits, a lone surrogate: nothing MongoDB can store.
            raise ValueError(f"context cannot be stored: {exc}") from exc
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(
                f"context takes {size:,} bytes as stored; at most {MAX_CONTEXT_BYTES:,} allowed"
            )
        return value


class LogBatch(BaseModel):
    """Up to 5,000 lines. Each is checked on its own: a bad line fails alone (at its index)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entries": [
                        {
                            "run_id": "6650f1c2a7b4e3d2c1b0a998",
                            "level": "info",
                            "source": "runner",
                            "message": "worker ci-7 started",
                        },
                        {
                            "run_id": "6650f1c2a7b4e3d2c1b0a998",
                            "execution_id": "6650f1c2a7b4e3d2c1b0a997",
                            "step_order": 0,
                            "level": "warning",
                            "source": "network",
                            "message": "GET /api/profile took 2300 ms",
                            "context": {"status": 200},
                        },
                    ]
                }
            ]
        },
    )

    entries: list[Annotated[LogEntryCreate | dict[str, Any], Field(union_mode="left_to_right")]] = (
        Field(
            min_length=1,
            max_length=MAX_LOG_BATCH,
            description=f"1 to {MAX_LOG_BATCH:,} log entries (each a `LogEntryCreate`).",
        )
    )


class LogEntryRead(ReadModel):
    run_id: ObjectIdStr
    execution_id: ObjectIdStr | None
    step_order: int | None
    level: LogLevel
    source: LogSource
    message: str
    timestamp: datetime
    context: dict[str, Any]
