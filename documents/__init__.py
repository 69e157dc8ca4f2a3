"""Beanie documents: persistence only (fields, embedded models, indexes)."""

from beanie import Document

from documents.artifacts import LogEntry, Screenshot, TestReport
from documents.configurations import BrowserConfiguration, TestEnvironment
from documents.executions import TestExecution, TestRun
from documents.idempotency import IdempotencyRecord
from documents.keys import ApiKey
from documents.test_defs import TestCase, TestSuite, TestTemplate

ALL_DOCUMENTS: list[type[Document]] = [
    BrowserConfiguration,
    TestEnvironment,
    TestCase,
    TestSuite,
    TestTemplate,
    TestRun,
    TestExecution,
    Screenshot,
    LogEntry,
    TestReport,
    IdempotencyRecord,
    ApiKey,
]

__all__ = [
    "ALL_DOCUMENTS",
    "ApiKey",
    "BrowserConfiguration",
    "IdempotencyRecord",
    "LogEntry",
    "Screenshot",
    "TestCase",
    "TestEnvironment",
    "TestExecution",
    "TestReport",
    "TestRun",
    "TestSuite",
    "TestTemplate",
]
