"""Retention (`jbts prune`): the runs older than a moment, deleting them, or counting what that
would remove.

A run is deleted by `runs.purge_run`, the same deletion as `DELETE /executions/runs/{id}`: its
belongings first, the run last, so an interrupted prune leaves runs that the next prune finds
and finishes. A run still `running` is kept (as the route refuses it): cancel it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from beanie import PydanticObjectId
from bson import ObjectId

from api.artifacts import log_service, report_service, screenshot_service
from api.artifacts.buckets import Removed
from api.executions import service as execution_service
from api.executions.runs import RunDeletion, runs
from documents.executions import RunStatus


@dataclass(frozen=True, slots=True)
class OldRun:
    id: PydanticObjectId
    name: str
    status: RunStatus
    created_at: datetime

    @property
    def kept(self) -> bool:
        """A running run is not pruned: its runner still reports into it."""
        return self.status is RunStatus.RUNNING


async def old_runs(*, created_before: datetime) -> list[OldRun]:
    """The runs created before the moment, oldest first (the `created_at, _id` sort index)."""
    found: list[OldRun] = []
    cursor = runs().find(
        {"created_at": {"$lt": created_before}},
        projection={"name": 1, "status": 1, "created_at": 1},
        sort=[("created_at", 1), ("_id", 1)],
        batch_size=1000,
    )
    async with cursor:
        async for raw in cursor:
            found.append(
                OldRun(
                    id=PydanticObjectId(raw["_id"]),
                    name=str(raw.get("name", "")),
                    status=RunStatus(raw["status"]),
                    created_at=raw["created_at"],
                )
            )
    return found


async def current_status(*, id: PydanticObjectId) -> RunStatus | None:
    """The run's status now (None once it is gone): a prune reads it again just before deleting,
    so a run that started since the list was read is kept."""
    raw = await runs().find_one({"_id": id}, projection={"status": 1})
    return None if raw is None else RunStatus(raw["status"])


class DryRun:
    """Counts what pruning runs would remove, writing nothing. Screenshot files are counted once
    all runs are known: a file shared by two pruned runs goes, one also used by a kept run
    stays (`screenshot_service.files_freed`)."""

    def __init__(self) -> None:
        self.counted = RunDeletion()
        self._references: dict[ObjectId, int] = {}

    async def count_run(self, *, id: PydanticObjectId) -> None:
        screenshots, per_file = await screenshot_service.count_run_screenshots(run_id=id)
        for file_id, taken in per_file.items():
            self._references[file_id] = self._references.get(file_id, 0) + taken
        self.counted += RunDeletion(
            runs=1,
            executions=await execution_service.executions().count_documents({"run_id": id}),
            screenshots=Removed(documents=screenshots),
            log_lines=await log_service.count_run_logs(run_id=id),
            reports=await report_service.count_run_reports(run_id=id),
        )

    async def total(self) -> RunDeletion:
        return self.counted + RunDeletion(
            screenshots=await screenshot_service.files_freed(self._references)
        )
