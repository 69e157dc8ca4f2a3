"""`jbts seed` and `jbts reset`, as an operator runs them, checked against the database."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import struct
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner, Result

from api.database import migrations
from api.executions.signature import signature
from api.settings import get_settings
from scripts.cli import app
from scripts.seeding import SIZES
from tests.scripts.conftest import ALL_COLLECTIONS, ENVIRONMENT
from tests.scripts.test_cli import one_error_line
from tests.scripts.test_stats import browser_configuration
from tests.servers import jbts_executable, server_env

SyncClient = MongoClient[dict[str, Any]]

SMALL = SIZES["small"]
SEEDED = {
    "browser_configurations": SMALL.browser_configurations,
    "test_environments": SMALL.environments,
    "test_templates": SMALL.templates,
    "test_cases": SMALL.test_cases,
    "test_suites": SMALL.suites,
    "test_runs": SMALL.runs,
}
"""Documents per collection, as the size says."""
EXECUTIONS = "test_executions"
"""As many as the runs' active cases and retries make."""
ARTIFACTS = (
    "screenshots",
    "screenshots.files",
    "screenshots.chunks",
    "log_entries",
    "test_reports",
)
"""As many as the runs' failures (screenshots), the latest runs' executions (log lines) make."""
RETENTION = ("JBTS_LOG_RETENTION_DAYS", "3650")
"""A log retention that keeps the seeded history's lines (dated 2025): the default drops them."""
APPLIED_ALL = [f"Applied {m.version:04d} {m.name}" for m in migrations.discover()]
# A bound on waiting for the subprocess, not an expectation of speed (a loaded 2-core machine).
TERMINAL_TIMEOUT = 120.0
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def summary_rows(output: str) -> dict[str, int]:
    """The summary table: documents per collection (and the total)."""
    rows: dict[str, int] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if line.startswith("│") and len(cells) == 3 and cells[1].isdigit():
            rows[cells[0]] = int(cells[1])
    return rows


def documents(client: SyncClient, db_name: str) -> dict[str, list[dict[str, Any]]]:
    """Every seeded document, per collection, in `_id` order."""
    return {
        name: list(client[db_name][name].find({}).sort("_id", 1))
        for name in sorted([*SEEDED, EXECUTIONS, *ARTIFACTS])
    }


@dataclass(frozen=True)
class Seeded:
    db_name: str
    result: Result
    documents: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def seeded(mongodb_uri: str) -> Iterator[Seeded]:
    """One database seeded by `jbts seed --size small --seed 7`, for the tests that only read."""
    name = f"jbts_seed_{uuid.uuid4().hex[:12]}"
    client: SyncClient = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    runner = CliRunner()
    try:
        with pytest.MonkeyPatch.context() as env:
            for variable in ENVIRONMENT:
                env.delenv(variable, raising=False)
            env.setenv("MONGODB_URI", mongodb_uri)
            env.setenv("MONGODB_DB", name)
            env.setenv("COLUMNS", "200")
            env.setenv(*RETENTION)
            get_settings.cache_clear()
            assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
            result = runner.invoke(app, ["seed", "--size", "small", "--seed", "7"])
        get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        yield Seeded(db_name=name, result=result, documents=documents(client, name))
    finally:
        client.drop_database(name)
        client.close()


def milliseconds(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def seed(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, ["seed", "--size", "small", *args])


class TestWhatSeedWrites:
    def test_the_summary_counts_what_the_database_holds(self, seeded: Seeded) -> None:
        rows = summary_rows(seeded.result.stdout)

        executions = len(seeded.documents[EXECUTIONS])
        assert executions >= SMALL.runs
        made = {name: len(seeded.documents[name]) for name in (EXECUTIONS, *ARTIFACTS)}
        assert all(made.values()), made
        assert made["test_reports"] == SMALL.reported_runs
        expected = {**SEEDED, **made}
        assert rows == {**expected, "total": sum(expected.values())}
        assert {name: len(docs) for name, docs in seeded.documents.items()} == expected
        assert "size small, seed 7" in seeded.result.stdout
        assert not any(line.startswith("Applied ") for line in seeded.result.stdout.splitlines())

    def test_every_reference_names_a_seeded_document(self, seeded: Seeded) -> None:
        ids = {name: {doc["_id"] for doc in docs} for name, docs in seeded.documents.items()}
        runs = seeded.documents["test_runs"]
        referrers = [*seeded.documents["test_cases"], *seeded.documents["test_suites"], *runs]

        for suite in seeded.documents["test_suites"]:
            assert suite["test_case_ids"], suite["name"]
            assert set(suite["test_case_ids"]) <= ids["test_cases"], suite["name"]
            assert len(set(suite["test_case_ids"])) == len(suite["test_case_ids"])
        for document in referrers:
            for field, collection in (
                ("template_id", "test_templates"),
                ("browser_configuration_id", "browser_configurations"),
                ("environment_id", "test_environments"),
            ):
                assert document.get(field) in {None, *ids[collection]}, (document["name"], field)
        # Some of each kind of link, not none.
        for field in ("template_id", "browser_configuration_id", "environment_id"):
            assert any(case[field] for case in seeded.documents["test_cases"]), field
        for run in runs:
            assert run["suite_id"] in {None, *ids["test_suites"]}, run["name"]
        assert any(run["suite_id"] for run in runs)
        for execution in seeded.documents[EXECUTIONS]:
            assert execution["run_id"] in ids["test_runs"]
            assert execution["test_case_id"] in ids["test_cases"]

    def test_one_default_browser_and_unique_names_and_keys(self, seeded: Seeded) -> None:
        browsers = seeded.documents["browser_configurations"]

        assert [b["is_default"] for b in browsers].count(True) == 1
        for collection in ("browser_configurations", "test_environments", "test_templates"):
            names = [doc["name"] for doc in seeded.documents[collection]]
            assert len(set(names)) == len(names), collection
        keys = [c["automation_key"] for c in seeded.documents["test_cases"] if c["automation_key"]]
        assert keys
        assert len(set(keys)) == len(keys)

    def test_cases_have_3_to_12_ordered_steps_with_distinct_ids(self, seeded: Seeded) -> None:
        for case in seeded.documents["test_cases"]:
            steps = case["steps"]
            assert 3 <= len(steps) <= 12, case["name"]
            assert [step["order"] for step in steps] == list(range(1, len(steps) + 1))
            assert len({step["id"] for step in steps}) == len(steps)
            assert steps[0]["action"] == "navigate"
            assert steps[0]["value"].startswith("https://")
            assert "{{" not in str(steps)  # every template placeholder was filled in

    def test_the_largest_suite_holds_every_case_up_to_200(self, seeded: Seeded) -> None:
        sizes = [len(suite["test_case_ids"]) for suite in seeded.documents["test_suites"]]

        assert max(sizes) == min(200, SMALL.test_cases) == SMALL.largest_suite
        assert len(set(sizes)) > 1

    def test_secret_variables_and_a_spread_of_statuses(self, seeded: Seeded) -> None:
        variables = [v for e in seeded.documents["test_environments"] for v in e["variables"]]
        cases = seeded.documents["test_cases"]

        assert any(v["secret"] for v in variables)
        assert any(not v["secret"] for v in variables)
        assert len({case["status"] for case in cases}) > 1
        assert len({case["priority"] for case in cases}) > 1
        assert len({case["owner"] for case in cases}) > 1

    def test_timestamps_lie_in_2025(self, seeded: Seeded) -> None:
        for name, docs in seeded.documents.items():
            if name.endswith((".files", ".chunks")):  # GridFS's own format: checked below
                continue
            for doc in docs:
                created = doc["created_at"].replace(tzinfo=UTC)
                assert (
                    datetime(2025, 1, 1, tzinfo=UTC) <= created < datetime(2026, 1, 1, tzinfo=UTC)
                )
                assert doc["updated_at"] >= doc["created_at"]
                assert doc["_id"].generation_time == created.replace(microsecond=0)


def by_run(seeded: Seeded) -> dict[Any, list[dict[str, Any]]]:
    """Each seeded run's executions."""
    grouped: dict[Any, list[dict[str, Any]]] = {
        run["_id"]: [] for run in seeded.documents["test_runs"]
    }
    for execution in seeded.documents[EXECUTIONS]:
        grouped[execution["run_id"]].append(execution)
    return grouped


class TestSeededRuns:
    def test_counters_are_the_executions_statuses_and_the_status_the_latest_attempts(
        self, seeded: Seeded
    ) -> None:
        executions = by_run(seeded)

        for run in seeded.documents["test_runs"]:
            mine = executions[run["_id"]]
            counted = Counter(execution["status"] for execution in mine)
            counters = {name: value for name, value in run["counters"].items() if value}
            assert counters == {**counted, "total": len(mine)}, run["name"]
            latest: dict[Any, dict[str, Any]] = {}
            for execution in sorted(mine, key=lambda e: e["attempt"]):
                latest[execution["test_case_id"]] = execution
            failing = any(e["status"] in {"failed", "error"} for e in latest.values())
            assert run["status"] == ("failed" if failing else "passed"), run["name"]
            assert run["pending"] == []
            assert run["recount_needed"] is False
            assert {e["run_seq"] for e in mine} == {1}
            assert run["started_at"] == min(e["started_at"] for e in mine)
            assert run["finished_at"] == max(e["finished_at"] for e in mine)
            assert run["duration_ms"] == milliseconds(run["finished_at"] - run["started_at"])

    def test_a_suite_run_executes_its_active_cases_once_and_retries_some_failures(
        self, seeded: Seeded
    ) -> None:
        cases = {case["_id"]: case for case in seeded.documents["test_cases"]}
        suites = {suite["_id"]: suite for suite in seeded.documents["test_suites"]}
        executions = by_run(seeded)

        for run in seeded.documents["test_runs"]:
            firsts = [e["test_case_id"] for e in executions[run["_id"]] if e["attempt"] == 1]
            retried = [e for e in executions[run["_id"]] if e["attempt"] == 2]
            assert {e["attempt"] for e in executions[run["_id"]]} <= {1, 2}
            if run["suite_id"] is not None:
                suite = suites[run["suite_id"]]
                active = [i for i in suite["test_case_ids"] if cases[i]["status"] == "active"]
                assert sorted(firsts) == sorted(active), run["name"]  # each once
            for retry in retried:
                first = next(
                    e
                    for e in executions[run["_id"]]
                    if e["test_case_id"] == retry["test_case_id"] and e["attempt"] == 1
                )
                assert first["status"] in {"failed", "error"}
                assert retry["started_at"] >= first["finished_at"]
        attempts = [e["attempt"] for e in seeded.documents[EXECUTIONS]]
        assert attempts.count(2) >= 1

    def test_step_results_agree_with_the_execution(self, seeded: Seeded) -> None:
        cases = {case["_id"]: case for case in seeded.documents["test_cases"]}

        for execution in seeded.documents[EXECUTIONS]:
            case = cases[execution["test_case_id"]]
            assert execution["test_case"]["version"] == case["version"]
            assert [s["id"] for s in execution["test_case"]["steps"]] == [
                s["id"] for s in case["steps"]
            ]
            steps = execution["steps"]
            assert [s["step_id"] for s in steps] == [s["id"] for s in case["steps"]]
            statuses = [s["status"] for s in steps]
            status = execution["status"]
            assert execution["finished_at"] >= execution["started_at"]
            assert execution["duration_ms"] == milliseconds(
                execution["finished_at"] - execution["started_at"]
            )
            if status == "passed":
                assert set(statuses) == {"passed"}
                assert execution["error"] is None
            elif status == "skipped":
                assert set(statuses) == {"skipped"}
            else:
                error = execution["error"]
                assert error["signature"] == signature(error["message"], error["type"])
                failing = statuses.index(status)  # a failed execution has a failed step
                assert statuses[:failing] == ["passed"] * failing
                assert set(statuses[failing + 1 :]) <= {"skipped"}
                assert steps[failing]["error"] == error
            for step in steps:
                if step["status"] == "skipped":
                    assert step["started_at"] is None
                else:
                    assert step["started_at"] >= execution["started_at"]
                    assert step["finished_at"] <= execution["finished_at"]

    def test_realistic_spread(self, seeded: Seeded) -> None:
        runs = seeded.documents["test_runs"]
        executions = seeded.documents[EXECUTIONS]

        assert Counter(run["branch"] for run in runs).most_common(1)[0][0] == "main"
        assert all(re.fullmatch(r"[0-9a-f]{40}", run["commit"]) for run in runs)
        statuses = Counter(execution["status"] for execution in executions)
        assert statuses.most_common(1)[0][0] == "passed"
        assert statuses["passed"] > 0.7 * len(executions)
        assert statuses["failed"] + statuses["error"] > 0
        signatures = {e["error"]["signature"] for e in executions if e["error"]}
        assert len(signatures) > 1


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class TestSeededArtifacts:
    def test_screenshots_belong_to_seeded_steps_that_list_them(self, seeded: Seeded) -> None:
        executions = {e["_id"]: e for e in seeded.documents[EXECUTIONS]}
        shots = {shot["_id"]: shot for shot in seeded.documents["screenshots"]}
        for shot in shots.values():
            execution = executions[shot["execution_id"]]
            assert shot["run_id"] == execution["run_id"]
            [step] = [s for s in execution["steps"] if s["step_id"] == shot["step_id"]]
            assert shot["_id"] in step["screenshot_ids"]
            assert shot["step_order"] == step["order"]
            assert shot["taken_at"] == step["finished_at"]
        listed = [
            id for e in executions.values() for step in e["steps"] for id in step["screenshot_ids"]
        ]
        assert sorted(listed) == sorted(shots)  # every listed id exists, each listed once
        failed = [
            step
            for e in executions.values()
            for step in e["steps"]
            if step["status"] in ("failed", "error")
        ]
        assert failed
        assert all(len(step["screenshot_ids"]) == 1 for step in failed)
        passed = [
            step for e in executions.values() for step in e["steps"] if step["status"] == "passed"
        ]
        assert any(step["screenshot_ids"] for step in passed)

    def test_gridfs_files_keep_the_storage_rules(self, seeded: Seeded) -> None:
        shots = seeded.documents["screenshots"]
        files = {f["_id"]: f for f in seeded.documents["screenshots.files"]}
        chunks: dict[Any, list[dict[str, Any]]] = {}
        for chunk in seeded.documents["screenshots.chunks"]:
            chunks.setdefault(chunk["files_id"], []).append(chunk)
        refs = Counter(shot["file_id"] for shot in shots)
        assert set(refs) == set(files) == set(chunks)
        assert max(refs.values()) > 1  # identical failures share one file
        hashes = set()
        for file_id, file in files.items():
            data = b"".join(c["data"] for c in sorted(chunks[file_id], key=lambda c: c["n"]))
            assert file["length"] == len(data)
            assert file["metadata"]["refs"] == refs[file_id]
            assert file["metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
            assert file["metadata"]["content_type"] == "image/png"
            hashes.add(file["metadata"]["sha256"])
            for shot in shots:
                if shot["file_id"] == file_id:
                    assert shot["sha256"] == file["metadata"]["sha256"]
                    assert shot["size"] == len(data)
                    assert (shot["width"], shot["height"]) == png_size(data)
        assert len(hashes) == len(files)  # identical bytes are stored once

    def test_log_lines_follow_their_executions(self, seeded: Seeded) -> None:
        runs = {run["_id"] for run in seeded.documents["test_runs"]}
        executions = {e["_id"]: e for e in seeded.documents[EXECUTIONS]}
        lines = seeded.documents["log_entries"]
        for line in lines:
            assert line["run_id"] in runs
            execution = executions[line["execution_id"]]
            assert execution["run_id"] == line["run_id"]
            assert execution["started_at"] <= line["timestamp"] <= execution["finished_at"]
        levels = Counter(line["level"] for line in lines)
        assert levels["info"] > 0
        assert levels["debug"] > 0
        by_execution: dict[Any, list[dict[str, Any]]] = {}
        for line in lines:
            by_execution.setdefault(line["execution_id"], []).append(line)
        failed = [executions[id] for id in by_execution if executions[id]["error"] is not None]
        for execution in failed:
            errors = {e["message"] for e in by_execution[execution["_id"]] if e["level"] == "error"}
            assert execution["error"]["message"] in errors
        assert {line["source"] for line in lines} >= {"runner", "driver"}

    def test_reports_of_the_latest_runs_as_the_service_renders_them(self, seeded: Seeded) -> None:
        runs = {run["_id"]: run for run in seeded.documents["test_runs"]}
        latest = sorted(runs.values(), key=lambda run: run["finished_at"])[-SMALL.reported_runs :]
        reports = seeded.documents["test_reports"]
        assert {report["run_id"] for report in reports} == {run["_id"] for run in latest}
        for report in reports:
            content = json.loads(report["content"])
            run = runs[report["run_id"]]
            assert content["run"]["id"] == str(run["_id"])
            assert len(content["executions"]) == run["counters"]["total"]
            assert report["summary"]["total"] == run["counters"]["total"]
            assert report["size"] == len(report["content"].encode())
            assert report["generated_at"] >= run["finished_at"]


class TestReproducible:
    @pytest.fixture
    def seed_again(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> Callable[[str], dict[str, list[dict[str, Any]]]]:
        """Seed a fresh database with `--seed N`; every document it holds then."""

        def seeded_with(number: str) -> dict[str, list[dict[str, Any]]]:
            assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
            result = seed(runner, "--seed", number)
            assert result.exit_code == 0, result.output
            return documents(sync_mongo, cli_db)

        return seeded_with

    @pytest.fixture(autouse=True)
    def retention(self, clean_env: pytest.MonkeyPatch) -> None:
        clean_env.setenv(*RETENTION)
        get_settings.cache_clear()

    def test_the_same_seed_gives_the_same_documents_ids_included(
        self, seeded: Seeded, seed_again: Callable[[str], dict[str, list[dict[str, Any]]]]
    ) -> None:
        assert seed_again("7") == seeded.documents

    def test_another_seed_gives_other_data(
        self, seeded: Seeded, seed_again: Callable[[str], dict[str, list[dict[str, Any]]]]
    ) -> None:
        other = seed_again("8")

        for name, docs in seeded.documents.items():
            assert {d["_id"] for d in other[name]}.isdisjoint(d["_id"] for d in docs), name
        assert [c["name"] for c in other["test_cases"]] != [
            c["name"] for c in seeded.documents["test_cases"]
        ]


class TestSeedRefuses:
    def test_an_unmigrated_mongodb(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        line = one_error_line(seed(runner))

        latest = migrations.latest_version()
        assert line == (
            f"the database schema is at migration 0, this service needs {latest}: "
            "run `jbts migrate up`"
        )
        assert sync_mongo[cli_db].list_collection_names() == []

    def test_a_database_that_already_holds_data(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        sync_mongo[cli_db]["browser_configurations"].insert_one(browser_configuration("Mine"))

        line = one_error_line(seed(runner))

        assert line == (
            "browser_configurations already holds documents: seed an empty database, or drop "
            "the service's collections first (`jbts seed --reset`)"
        )
        assert sync_mongo[cli_db]["browser_configurations"].count_documents({}) == 1
        assert sync_mongo[cli_db]["test_cases"].count_documents({}) == 0

    def test_reset_without_yes_when_the_input_is_not_a_terminal(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        sync_mongo[cli_db]["browser_configurations"].insert_one(browser_configuration("Mine"))

        line = one_error_line(runner.invoke(app, ["seed", "--reset"], input="y\n"))

        assert line.endswith("needs confirmation, and the input is not a terminal: pass --yes")
        assert f"database {cli_db}" in line
        assert sync_mongo[cli_db]["browser_configurations"].count_documents({}) == 1


class TestSeedOnTheEmbeddedEngine:
    def test_applies_the_migrations_first_and_says_so(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        result = seed(runner, "--data-dir", str(tmp_path / "data"))

        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[: len(APPLIED_ALL)] == APPLIED_ALL
        assert summary_rows(result.stdout)["test_cases"] == SMALL.test_cases
        assert "embedded engine (mongoeco)" in result.stdout
        # The seeded history is of 2025: the default retention (30 days) would delete its lines.
        assert summary_rows(result.stdout)["log_entries"] == 0
        assert re.search(
            r"log_entries: \d+ log lines not written: older than the log", result.stdout
        )


class TestReset:
    @pytest.fixture
    def populated(self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient) -> str:
        """A migrated database with a document of the service and a collection of the user's."""
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        sync_mongo[cli_db]["browser_configurations"].insert_one(browser_configuration("Mine"))
        sync_mongo[cli_db]["my_notes"].insert_one({"note": "keep me"})
        return cli_db

    def test_with_yes_leaves_the_migrated_empty_schema_and_other_collections(
        self, runner: CliRunner, populated: str, sync_mongo: SyncClient
    ) -> None:
        result = runner.invoke(app, ["reset", "--yes"])

        assert result.exit_code == 0, result.output
        db = sync_mongo[populated]
        assert set(db.list_collection_names()) == {*ALL_COLLECTIONS, "my_notes"}
        assert db["my_notes"].count_documents({}) == 1
        for name in ALL_COLLECTIONS - {"schema_migrations"}:
            assert db[name].count_documents({}) == 0, name
        assert "name_unique" in db["browser_configurations"].index_information()
        assert db["schema_migrations"].count_documents({}) == len(APPLIED_ALL)
        assert result.stdout.splitlines()[1:] == APPLIED_ALL
        assert "browser_configurations" in result.stdout.splitlines()[0]
        assert "my_notes" not in result.stdout

    def test_drops_the_gridfs_buckets_too(
        self, runner: CliRunner, populated: str, sync_mongo: SyncClient
    ) -> None:
        db = sync_mongo[populated]
        for bucket in ("screenshots", "reports"):
            db[f"{bucket}.files"].insert_one({"_id": 1, "length": 1, "metadata": {"refs": 1}})
            db[f"{bucket}.chunks"].insert_one({"files_id": 1, "n": 0, "data": b"x"})

        result = runner.invoke(app, ["reset", "--yes"])

        assert result.exit_code == 0, result.output
        assert set(db.list_collection_names()) == {*ALL_COLLECTIONS, "my_notes"}
        assert "screenshots.files" in result.stdout.splitlines()[0]

    def test_without_yes_when_the_input_is_not_a_terminal_drops_nothing(
        self, runner: CliRunner, mongodb_uri: str, populated: str, sync_mongo: SyncClient
    ) -> None:
        line = one_error_line(runner.invoke(app, ["reset"], input="y\n"))

        assert line == (
            f"dropping the service's collections in MongoDB at {mongodb_uri}, database "
            f"{populated} needs confirmation, and the input is not a terminal: pass --yes"
        )
        assert sync_mongo[populated]["browser_configurations"].count_documents({}) == 1

    def test_on_a_terminal_it_asks_and_no_keeps_everything(
        self, mongodb_uri: str, populated: str, sync_mongo: SyncClient
    ) -> None:
        env = server_env(MONGODB_URI=mongodb_uri, MONGODB_DB=populated)

        code, output = answer_on_a_terminal(["reset"], env=env, answer="n")

        assert code == 1, output
        assert (
            f"Drop every collection of the service in MongoDB at {mongodb_uri}, database "
            f"{populated}, with all their documents, and re-create them empty? [y/N]"
        ) in " ".join(output.split())
        assert "Error: not confirmed: nothing was dropped" in output
        assert sync_mongo[populated]["browser_configurations"].count_documents({}) == 1

    def test_seed_reset_yes_replaces_the_data(
        self, runner: CliRunner, populated: str, sync_mongo: SyncClient
    ) -> None:
        result = seed(runner, "--reset", "--yes")

        assert result.exit_code == 0, result.output
        db = sync_mongo[populated]
        assert db["test_cases"].count_documents({}) == SMALL.test_cases
        assert db["browser_configurations"].count_documents({"name": "Mine"}) == 0
        assert db["my_notes"].count_documents({}) == 1
        assert result.stdout.splitlines()[0].startswith("Dropped the service's collections: ")


def answer_on_a_terminal(args: list[str], *, env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run `jbts <args>` on a pseudo-terminal, answer its question; its exit code and output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(  # noqa: S603 - our own console script, fixed args
        [jbts_executable(), *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = b""
    answered = False
    deadline = time.monotonic() + TERMINAL_TIMEOUT
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([leader], [], [], remaining)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the process has exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"[y/N]" in output:
                os.write(leader, answer.encode() + b"\n")
                answered = True
        text = ANSI_STYLE.sub("", output.decode(errors="replace"))
        return process.wait(timeout=TERMINAL_TIMEOUT), text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
