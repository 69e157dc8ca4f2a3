"""The documents and the migrations describe the same collections.

Migrations are frozen copies (they never import `documents/`), so nothing but this module notices
when a document gains a field or an index no migration creates. Everything here is static: no
database, no `init_beanie`.

What the migrations describe, in order: `COLLECTIONS` (new collections with validator and indexes),
`INDEXES` (indexes added to an existing collection), `DROPPED_INDEXES` (indexes removed, by name),
and `COUNTERS` or `ADDED_FIELDS` (a field added to existing documents without a validator change,
as engines without `collMod` require). `GRIDFS_INDEXES` (indexes of GridFS collections, which no
document describes) are only checked to name GridFS collections.
"""

import ast
import importlib
import pkgutil
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import pytest
from beanie import Document, PydanticObjectId
from bson.int64 import Int64
from pydantic import BaseModel
from pymongo import IndexModel

import migrations
from documents import (
    ALL_DOCUMENTS,
    ApiKey,
    BrowserConfiguration,
    IdempotencyRecord,
    LogEntry,
    Screenshot,
    TestCase,
    TestEnvironment,
    TestExecution,
    TestReport,
    TestRun,
    TestSuite,
    TestTemplate,
)

MIGRATIONS = [
    importlib.import_module(f"migrations.{info.name}")
    for info in sorted(pkgutil.iter_modules(migrations.__path__), key=lambda info: info.name)
    if re.match(r"^m\d{4}_", info.name)
]
SPECS = {spec.name: spec for module in MIGRATIONS for spec in getattr(module, "COLLECTIONS", [])}
ADDED_INDEXES: dict[str, list[IndexModel]] = {}
DROPPED_INDEXES: dict[str, set[str]] = {}
UNVALIDATED_FIELDS: dict[str, set[str]] = {}
for _module in MIGRATIONS:
    for _name, _indexes in getattr(_module, "INDEXES", {}).items():
        ADDED_INDEXES.setdefault(_name, []).extend(_indexes)
    for _name, _indexes in getattr(_module, "DROPPED_INDEXES", {}).items():
        DROPPED_INDEXES.setdefault(_name, set()).update(i.document["name"] for i in _indexes)
    for _name, _field in {
        **getattr(_module, "COUNTERS", {}),
        **getattr(_module, "ADDED_FIELDS", {}),
    }.items():
        _fields = (_field,) if isinstance(_field, str) else _field
        UNVALIDATED_FIELDS.setdefault(_name, set()).update(_fields)
MIGRATIONS_DIR = Path(migrations.__path__[0])


CASE_ID = PydanticObjectId()
RUN_ID = PydanticObjectId()
EXECUTION_ID = PydanticObjectId()
NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
STEP = {"id": "a1b2c3d4e5f6", "order": 0, "action": "navigate", "value": "https://example.com"}

# Per document: the smallest valid document, then one with every optional part filled.
SAMPLES: dict[type[Document], list[dict[str, Any]]] = {
    BrowserConfiguration: [
        {"name": "chrome", "browser": "chrome"},
        {
            "name": "mobile",
            "browser": "webkit",
            "version": "17",
            "user_agent": "UA",
            "args": ["-x"],
        },
    ],
    TestEnvironment: [
        {"name": "staging", "base_url": "https://staging.example.com"},
        {
            "name": "prod",
            "base_url": "https://example.com",
            "description": "production",
            "variables": [{"name": "TOKEN", "value": "t", "secret": True}],
        },
    ],
    TestCase: [
        {"name": "log in"},
        {
            "name": "log in",
            "description": "happy path",
            "status": "active",
            "priority": "critical",
            "tags": ["smoke"],
            "preconditions": "a user",
            "expected_result": "logged in",
            "target_url": "https://example.com/login",
            "owner": "qa",
            "automation_key": "auth.login",
            "template_id": PydanticObjectId(),
            "browser_configuration_id": PydanticObjectId(),
            "environment_id": PydanticObjectId(),
            "version": 3,
            "steps": [STEP, {"order": 1, "action": "click", "selector": "#go", "optional": True}],
        },
    ],
    TestSuite: [
        {"name": "smoke"},
        {
            "name": "smoke",
            "description": "fast checks",
            "tags": ["smoke"],
            "test_case_ids": [CASE_ID],
            "browser_configuration_id": PydanticObjectId(),
            "environment_id": PydanticObjectId(),
        },
    ],
    TestTemplate: [
        {"name": "login"},
        {
            "name": "login",
            "description": "log in as someone",
            "category": "auth",
            "parameters": [{"name": "user"}, {"name": "url", "default": "/", "description": "d"}],
            "steps": [{"order": 0, "action": "type", "selector": "#u", "value": "{{user}}"}],
        },
    ],
    TestRun: [
        {"name": "nightly"},
        {
            "name": "nightly",
            "suite_id": PydanticObjectId(),
            "trigger": "ci",
            "status": "running",
            "browser_configuration_id": PydanticObjectId(),
            "environment_id": PydanticObjectId(),
            "browser_configuration": {"name": "chrome", "browser": "chrome", "args": ["-x"]},
            "environment": {
                "name": "staging",
                "base_url": "https://staging.example.com",
                "variables": [{"name": "TOKEN", "secret": True}, {"name": "U", "value": "qa"}],
            },
            "started_at": NOW,
            "finished_at": NOW,
            "duration_ms": 1200,
            "counters": {"running": 1, "passed": 2, "total": 3},
            "build_url": "https://ci.example.com/1",
            "commit": "0123abc",
            "branch": "main",
            "requested_by": "ci-bot",
            "version": 4,
        },
    ],
    TestExecution: [
        {"run_id": RUN_ID, "test_case_id": CASE_ID, "test_case": {"version": 1, "name": "c"}},
        {
            "run_id": RUN_ID,
            "test_case_id": CASE_ID,
            "test_case": {"version": 2, "name": "c", "steps": [STEP]},
            "attempt": 2,
            "status": "failed",
            "started_at": NOW,
            "finished_at": NOW,
            "duration_ms": 10,
            "error": {
                "message": "boom",
                "type": "AssertionError",
                "stack": "...",
                "signature": "b",
            },
            "worker": "w1",
            "steps": [
                {
                    "step_id": STEP["id"],
                    "order": 0,
                    "action": "navigate",
                    "status": "failed",
                    "started_at": NOW,
                    "finished_at": NOW,
                    "duration_ms": 10,
                    "error": {"message": "boom"},
                    "actual_value": "x",
                    "screenshot_ids": [PydanticObjectId()],
                }
            ],
        },
    ],
    Screenshot: [
        {
            "execution_id": EXECUTION_ID,
            "run_id": RUN_ID,
            "file_id": PydanticObjectId(),
            "content_type": "image/png",
            "size": 10,
            "sha256": "0" * 64,
        },
        {
            "execution_id": EXECUTION_ID,
            "run_id": RUN_ID,
            "step_id": STEP["id"],
            "step_order": 0,
            "file_id": PydanticObjectId(),
            "filename": "shot.png",
            "content_type": "image/png",
            "size": 10,
            "sha256": "f" * 64,
            "width": 1280,
            "height": 720,
            "taken_at": NOW,
        },
    ],
    LogEntry: [
        {"run_id": RUN_ID, "message": "started"},
        {
            "run_id": RUN_ID,
            "execution_id": EXECUTION_ID,
            "step_order": 2,
            "level": "error",
            "source": "browser",
            "message": "TypeError",
            "timestamp": NOW,
            "context": {"url": "https://example.com", "line": 3, "args": [1, "a"]},
        },
    ],
    TestReport: [
        {"run_id": RUN_ID, "format": "json"},
        {
            "run_id": RUN_ID,
            "format": "junit",
            "summary": {"passed": 1, "failed": 1, "total": 2, "pass_rate": 0.5, "duration_ms": 9},
            "generated_at": NOW,
            "size": 12,
            "content": "<testsuites/>",
            "content_file_id": None,
        },
    ],
    IdempotencyRecord: [
        {
            "_id": "a" * 64,
            "request_hash": "b" * 64,
            "method": "POST",
            "path": "/api/v1/tests",
            "owner": "c0ffee",
            "locked_until": NOW,
            "created_at": NOW,
            "expires_at": NOW + timedelta(hours=24),
        },
        {
            "_id": "a" * 64,
            "request_hash": "b" * 64,
            "method": "POST",
            "path": "/api/v1/tests/bulk",
            "state": "done",
            "owner": "c0ffee",
            "locked_until": NOW,
            "response": {
                "status_code": 201,
                "headers": {"content-type": "application/json", "location": "/api/v1/tests/1"},
                "body": b'{"id": "1"}',
            },
            "created_at": NOW,
            "expires_at": NOW + timedelta(hours=24),
        },
    ],
    ApiKey: [
        {
            "name": "ci-runner",
            "prefix": "jbts_Ab3dE9",
            "hash": "d" * 64,
            "scopes": ["results:write"],
            "created_by": "cli:alice",
        },
        {
            "name": "admin",
            "prefix": "jbts_Zz9yX8",
            "hash": "e" * 64,
            "scopes": ["admin", "definitions:read"],
            "created_by": "key:bootstrap",
            "expires_at": NOW + timedelta(days=90),
            "last_used_at": NOW,
            "revoked_at": NOW,
        },
    ],
}


def _plain(value: Any) -> Any:
    """SON and tuples become dicts and lists, so index documents compare by value."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _index_signatures(indexes: list[IndexModel]) -> dict[str, dict[str, Any]]:
    signatures: dict[str, dict[str, Any]] = {}
    for index in indexes:
        doc = dict(index.document)
        signatures[doc["name"]] = {
            "key": list(doc["key"].items()),
            "unique": bool(doc.get("unique", False)),
            "sparse": bool(doc.get("sparse", False)),
            "partialFilterExpression": _plain(doc.get("partialFilterExpression")),
            "expireAfterSeconds": doc.get("expireAfterSeconds"),
            "weights": _plain(doc.get("weights")),
            "default_language": doc.get("default_language"),
        }
    return signatures


def _stored_fields(document: type[Document]) -> set[str]:
    """The top-level keys Beanie writes, `_id` aside."""
    return {
        field.alias or name
        for name, field in document.model_fields.items()
        if field.exclude is not True and (field.alias or name) != "_id"
    }


def _build(document: type[Document], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` as `document` without init_beanie, and return it as stored in BSON."""
    instance = document.__new__(document)
    # Document.__init__ needs an initialised collection; BaseModel.__init__ only validates.
    BaseModel.__init__(instance, **data)
    stored = instance.model_dump(by_alias=True)
    stored.pop("_id")
    return bson.decode(bson.encode(stored), codec_options=bson.CodecOptions(tz_aware=True))


def _bson_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "binData"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, bson.ObjectId):
        return "objectId"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    raise TypeError(f"unexpected stored type {type(value).__name__}")


def _violations(schema: Mapping[str, Any], value: Any, path: str = "$") -> list[str]:
    """Check `value` against the subset of `$jsonSchema` the migrations use.

    An unknown keyword fails loudly rather than being ignored, so this never passes a validator
    it cannot read.
    """
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword == "bsonType":
            allowed = [rule] if isinstance(rule, str) else rule
            if _bson_type(value) not in allowed:
                errors.append(f"{path}: {_bson_type(value)} is not one of {allowed}")
        elif keyword == "enum":
            if value not in rule:
                errors.append(f"{path}: {value!r} is not one of {rule}")
        elif keyword == "required":
            if isinstance(value, dict):
                errors += [f"{path}.{name}: missing" for name in rule if name not in value]
        elif keyword == "properties":
            if isinstance(value, dict):
                for name, sub in rule.items():
                    if name in value:
                        errors += _violations(sub, value[name], f"{path}.{name}")
        elif keyword == "items":
            if isinstance(value, list):
                for i, item in enumerate(value):
                    errors += _violations(rule, item, f"{path}[{i}]")
        elif keyword == "minimum":
            if isinstance(value, int | float) and not isinstance(value, bool) and value < rule:
                errors.append(f"{path}: {value} < {rule}")
        elif keyword == "maximum":
            if isinstance(value, int | float) and not isinstance(value, bool) and value > rule:
                errors.append(f"{path}: {value} > {rule}")
        elif keyword == "minLength":
            if isinstance(value, str) and len(value) < rule:
                errors.append(f"{path}: shorter than {rule}")
        elif keyword == "pattern":
            if isinstance(value, str) and re.search(rule, value) is None:
                errors.append(f"{path}: does not match {rule}")
        else:
            raise AssertionError(f"{path}: the drift test does not understand {keyword!r}")
    return errors


def _id(document: type[Document]) -> str:
    return document.__name__


@pytest.mark.parametrize("document", ALL_DOCUMENTS, ids=_id)
class TestDocumentMatchesMigration:
    def test_migration_creates_its_collection(self, document: type[Document]) -> None:
        assert document.Settings.name in SPECS

    def test_index_names_are_unique(self, document: type[Document]) -> None:
        names = [index.document["name"] for index in document.Settings.indexes]
        assert len(names) == len(set(names))

    def test_same_indexes(self, document: type[Document]) -> None:
        name = document.Settings.name
        dropped = DROPPED_INDEXES.get(name, set())
        created = [
            index
            for index in [*SPECS[name].indexes, *ADDED_INDEXES.get(name, [])]
            if index.document["name"] not in dropped
        ]
        assert _index_signatures(created) == _index_signatures(document.Settings.indexes)

    def test_validator_types_every_field(self, document: type[Document]) -> None:
        name = document.Settings.name
        schema = SPECS[name].validator["$jsonSchema"]
        added = UNVALIDATED_FIELDS.get(name, set())
        assert set(schema["properties"]) | added == _stored_fields(document)

    def test_required_fields_are_document_fields(self, document: type[Document]) -> None:
        schema = SPECS[document.Settings.name].validator["$jsonSchema"]
        assert set(schema["required"]) <= _stored_fields(document)

    def test_documents_pass_the_validator(self, document: type[Document]) -> None:
        validator = SPECS[document.Settings.name].validator["$jsonSchema"]
        for data in SAMPLES[document]:
            stored = _build(document, data)
            assert _violations(validator, stored) == [], data

    def test_validator_refuses_a_bad_enum_or_missing_field(self, document: type[Document]) -> None:
        validator = SPECS[document.Settings.name].validator["$jsonSchema"]
        stored = _build(document, SAMPLES[document][0])
        for name in validator["required"]:
            broken = {key: value for key, value in stored.items() if key != name}
            assert _violations(validator, broken), f"{name} missing but accepted"
        for name, schema in validator["properties"].items():
            if "enum" in schema:
                assert _violations(validator, {**stored, name: "bogus"}), f"{name}=bogus accepted"


def test_every_migrated_collection_has_a_document() -> None:
    assert set(SPECS) == {document.Settings.name for document in ALL_DOCUMENTS}


def test_indexes_are_added_to_document_collections_or_gridfs_buckets() -> None:
    """`INDEXES` (compared above) names only collections a document describes; the GridFS
    buckets' collections, which no document describes, are indexed through `GRIDFS_INDEXES`
    (m0008) instead, so none of a migration's indexes escapes both checks."""
    documents = {document.Settings.name for document in ALL_DOCUMENTS}
    assert set(ADDED_INDEXES) <= documents
    for module in MIGRATIONS:
        for name in getattr(module, "GRIDFS_INDEXES", {}):
            assert re.fullmatch(r"[a-z_]+\.(files|chunks)", name), name
            assert name.split(".")[0] in {"screenshots", "reports"}, name


def test_every_document_has_samples() -> None:
    assert set(SAMPLES) == set(ALL_DOCUMENTS)


def test_migrations_never_import_documents() -> None:
    for path in MIGRATIONS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m == "documents" or m.startswith("documents.") for m in modules), path
