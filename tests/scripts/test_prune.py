"""`jbts prune`: old runs go with everything that belongs to them, then the orphaned GridFS files.

The data is made through the services (runs with their queued executions, deduplicated
screenshot uploads, log batches, a report large enough for GridFS), then dated back in the
database: nothing here waits or depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import PydanticObjectId, init_beanie
from bson import ObjectId
from pymongo import AsyncMongoClient, MongoClient
from typer.testing import CliRunner

from documents import ALL_DOCUMENTS
from scripts.cli import app
from scripts.prune import parse_age
from tests.api.artifacts.images_samples import png

SyncClient = MongoClient[dict[str, Any]]
LONG_AGO = datetime.now(UTC) - timedelta(days=200)


@dataclass(frozen=True)
class Fixture:
    old: PydanticObjectId
    old_bare: PydanticObjectId
    old_running: PydanticObjectId
    recent: PydanticObjectId
    shared_file: ObjectId
    own_file: ObjectId
    own_bytes: int
    report_file: ObjectId
    report_bytes: int


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _build(uri: str, db_name: str) -> Fixture:
    from api.artifacts import log_service, report_service, screenshot_service
    from api.artifacts.report_schemas import ReportCreate
    from api.database import migrations
    from api.database.capabilities import EMBEDDED_WRITE_BATCH
    from api.executions import runs as run_service
    from api.executions.schemas import RunCreate
    from documents.artifacts import ReportFormat
    from documents.test_defs import CaseStatus, TestCase

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        db = client[db_name]
        await migrations.up(db)
        await init_beanie(database=db, document_models=ALL_DOCUMENTS, skip_indexes=True)
        case = await TestCase(name="log in", status=CaseStatus.ACTIVE).insert()
        assert case.id is not None

        async def new_run(name: str) -> tuple[PydanticObjectId, PydanticObjectId]:
            run = await run_service.create_run(
                data=RunCreate(name=name, test_case_ids=[case.id]),  # type: ignore[list-item]
                batch_size=EMBEDDED_WRITE_BATCH,
            )
            assert run.id is not None
            execution = await db["test_executions"].find_one({"run_id": run.id})
            assert execution is not None
            return run.id, execution["_id"]

        async def screenshot(execution: PydanticObjectId, data: bytes) -> ObjectId:
            shot = await screenshot_service.create_screenshot(
                execution_id=execution,
                step_id=None,
                taken_at=None,
                filename="shot.png",
                chunks=_one(data),
                max_bytes=1 << 20,
            )
            return ObjectId(shot.file_id)

        async def logs(run: PydanticObjectId, count: int) -> None:
            await log_service.create_entries(
                entries=[{"run_id": str(run), "message": f"line {n}"} for n in range(count)],
                batch_size=EMBEDDED_WRITE_BATCH,
            )

        old, old_execution = await new_run("old")
        old_bare, _ = await new_run("old, no artifacts")
        old_running, _ = await new_run("old, still running")
        recent, recent_execution = await new_run("recent")

        shared = png(seed=1)
        own = png(width=5, seed=2)
        shared_file = await screenshot(old_execution, shared)
        own_file = await screenshot(old_execution, own)
        assert await screenshot(recent_execution, shared) == shared_file  # deduplicated
        await logs(old, 2)
        await logs(old_bare, 1)
        await logs(recent, 1)
        await logs(old_running, 1)
        report = await report_service.generate_report(
            data=ReportCreate(run_id=old, format=ReportFormat.JUNIT),
            inline_bytes=1,
            base_url="http://testserver/",
        )
        assert report.content_file_id is not None

        await db["test_runs"].update_many(
            {"_id": {"$in": [old, old_bare, old_running]}}, {"$set": {"created_at": LONG_AGO}}
        )
        await db["test_runs"].update_one({"_id": old_running}, {"$set": {"status": "running"}})
        return Fixture(
            old=old,
            old_bare=old_bare,
            old_running=old_running,
            recent=recent,
            shared_file=shared_file,
            own_file=own_file,
            own_bytes=len(own),
            report_file=ObjectId(report.content_file_id),
            report_bytes=report.size,
        )
    finally:
        await client.close()


@pytest.fixture
def data(cli_db: str, mongodb_uri: str) -> Fixture:
    return asyncio.run(_build(mongodb_uri, cli_db))


def add_orphan(db: Any, bucket: str, *, uploaded: datetime, data: bytes = b"lost") -> ObjectId:
    """A GridFS file that no document names, as an interrupted upload or delete leaves one."""
    file_id = ObjectId()
    db[f"{bucket}.chunks"].insert_one({"files_id": file_id, "n": 0, "data": data})
    db[f"{bucket}.files"].insert_one(
        {
            "_id": file_id,
            "length": len(data),
            "chunkSize": 255 * 1024,
            "uploadDate": uploaded,
            "filename": "lost",
        }
    )
    return file_id


def summary(output: str) -> dict[str, list[str]]:
    """The summary table's rows by their first cell."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def snapshot(db: Any) -> dict[str, list[Any]]:
    names = ["test_runs", "test_executions", "screenshots", "log_entries", "test_reports"]
    names += [
        f"{bucket}.{part}" for bucket in ("screenshots", "reports") for part in ("files", "chunks")
    ]
    return {name: list(db[name].find({}, sort=[("_id", 1)])) for name in names}


EXPECTED = {
    "runs": ["2", "", ""],
    "executions": ["2", "", ""],
    "log lines": ["3", "", ""],
}


class TestPrune:
    def test_deletes_old_runs_with_their_belongings_and_keeps_the_rest(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, data: Fixture
    ) -> None:
        db = sync_mongo[cli_db]

        result = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert result.exit_code == 0, result.output
        rows = summary(result.stdout)
        for name, cells in EXPECTED.items():
            assert rows[name] == cells, name
        assert rows["screenshots"] == ["2", "1", str(data.own_bytes)]
        assert rows["reports"] == ["1", "1", str(data.report_bytes)]
        assert rows["orphan files (screenshots)"] == ["", "0", "0"]
        assert rows["total"] == ["", "2", str(data.own_bytes + data.report_bytes)]
        assert f"Kept run {data.old_running} ('old, still running'): it is running" in (
            result.stdout.replace("\n", " ")
        )

        left = {run["_id"] for run in db["test_runs"].find()}
        assert left == {data.recent, data.old_running}
        assert db["test_executions"].count_documents({"run_id": data.old}) == 0
        assert db["test_executions"].count_documents({"run_id": data.recent}) == 1
        assert db["log_entries"].count_documents({}) == 2
        assert db["test_reports"].count_documents({}) == 0
        assert [shot["run_id"] for shot in db["screenshots"].find()] == [data.recent]
        # The file the recent run's screenshot shares survives, with its one reference.
        shared = db["screenshots.files"].find_one({"_id": data.shared_file})
        assert shared is not None
        assert shared["metadata"]["refs"] == 1
        assert db["screenshots.chunks"].count_documents({"files_id": data.shared_file}) == 1
        for bucket, file_id in (("screenshots", data.own_file), ("reports", data.report_file)):
            assert db[f"{bucket}.files"].count_documents({"_id": file_id}) == 0
            assert db[f"{bucket}.chunks"].count_documents({"files_id": file_id}) == 0

    def test_dry_run_writes_nothing_and_counts_the_same(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, data: Fixture
    ) -> None:
        db = sync_mongo[cli_db]
        add_orphan(db, "screenshots", uploaded=LONG_AGO)
        before = snapshot(db)

        dry = runner.invoke(app, ["prune", "--older-than", "90d", "--dry-run"])

        assert dry.exit_code == 0, dry.output
        assert snapshot(db) == before
        assert "would delete" in dry.stdout
        assert "Dry run: nothing was written." in dry.stdout.splitlines()
        real = runner.invoke(app, ["prune", "--older-than", "90d"])
        assert real.exit_code == 0, real.output
        assert summary(dry.stdout)["screenshots"] == ["2", "1", str(data.own_bytes)]
        assert summary(dry.stdout) == summary(real.stdout)

    def test_a_second_prune_finds_nothing(
        self, runner: CliRunner, sync_mongo: SyncClient, cli_db: str, data: Fixture
    ) -> None:
        assert runner.invoke(app, ["prune", "--older-than", "90d"]).exit_code == 0
        before = snapshot(sync_mongo[cli_db])

        again = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert again.exit_code == 0, again.output
        rows = summary(again.stdout)
        assert rows["runs"][0] == "0"
        assert rows["total"] == ["", "0", "0"]
        assert snapshot(sync_mongo[cli_db]) == before

    def test_a_shorter_age_reaches_recent_runs_too(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, data: Fixture
    ) -> None:
        db = sync_mongo[cli_db]
        db["test_runs"].update_one(
            {"_id": data.recent}, {"$set": {"created_at": datetime.now(UTC) - timedelta(hours=3)}}
        )

        result = runner.invoke(app, ["prune", "--older-than", "2h"])

        assert result.exit_code == 0, result.output
        assert summary(result.stdout)["runs"][0] == "3"
        assert {run["_id"] for run in db["test_runs"].find()} == {data.old_running}
        assert db["screenshots.files"].count_documents({}) == 0
        assert db["screenshots.chunks"].count_documents({}) == 0

    def test_an_interrupted_prune_is_finished_by_the_next(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, data: Fixture
    ) -> None:
        db = sync_mongo[cli_db]
        # What a prune stopped midway through the old run leaves: its reports, screenshots and
        # log lines gone, its executions and the run itself still there.
        db["test_reports"].delete_many({"run_id": data.old})
        db["reports.files"].delete_many({})
        db["reports.chunks"].delete_many({})
        db["log_entries"].delete_many({"run_id": data.old})

        result = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert result.exit_code == 0, result.output
        rows = summary(result.stdout)
        assert rows["runs"][0] == "2"
        assert rows["executions"][0] == "2"
        assert rows["log lines"][0] == "1"
        assert rows["reports"] == ["0", "0", "0"]
        assert {run["_id"] for run in db["test_runs"].find()} == {data.recent, data.old_running}

    def test_removes_orphaned_files_past_the_grace_period(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        db = sync_mongo[cli_db]
        lost = add_orphan(db, "screenshots", uploaded=LONG_AGO, data=b"12345")
        lost_report = add_orphan(db, "reports", uploaded=LONG_AGO)
        uploading = add_orphan(db, "screenshots", uploaded=datetime.now(UTC))

        result = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert result.exit_code == 0, result.output
        rows = summary(result.stdout)
        assert rows["orphan files (screenshots)"] == ["", "1", "5"]
        assert rows["orphan files (reports)"] == ["", "1", "4"]
        assert [f["_id"] for f in db["screenshots.files"].find()] == [uploading]
        assert db["screenshots.chunks"].count_documents({"files_id": lost}) == 0
        assert db["reports.files"].count_documents({"_id": lost_report}) == 0

    def test_a_counted_file_nothing_references_is_an_orphan_once_it_is_old(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, data: Fixture
    ) -> None:
        db = sync_mongo[cli_db]
        # A delete interrupted between the metadata and the count leaves the count too high.
        db["screenshots"].delete_many({"run_id": data.recent})
        db["screenshots.files"].update_one(
            {"_id": data.shared_file}, {"$set": {"uploadDate": LONG_AGO}}
        )

        result = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert result.exit_code == 0, result.output
        assert summary(result.stdout)["orphan files (screenshots)"][1] == "1"
        assert db["screenshots.files"].count_documents({}) == 0


class TestArguments:
    @pytest.mark.parametrize(
        ("text", "hours"), [("90d", 90 * 24), ("12h", 12), ("2w", 2 * 7 * 24), ("1h", 1)]
    )
    def test_ages(self, text: str, hours: int) -> None:
        assert parse_age(text) == timedelta(hours=hours)

    @pytest.mark.parametrize("text", ["90", "d", "-1d", "1.5d", "90 days", "0h", "3651d", "1y"])
    def test_a_bad_age_is_one_line_and_exit_2(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, text: str
    ) -> None:
        result = runner.invoke(app, ["prune", "--older-than", text])

        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert re.match(r"^Error: invalid --older-than '.*': ", line), line

    def test_older_than_is_required(self, runner: CliRunner, clean_env: pytest.MonkeyPatch) -> None:
        result = runner.invoke(app, ["prune"])

        assert result.exit_code == 2
        assert "--older-than" in result.output

    def test_an_unmigrated_database_is_refused(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        result = runner.invoke(app, ["prune", "--older-than", "90d"])

        assert result.exit_code == 1
        [line] = result.stderr.splitlines()
        assert "run `jbts migrate up` first" in line
        assert sync_mongo[cli_db].list_collection_names() == []
