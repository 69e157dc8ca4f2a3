"""Execution transitions: every execution keeps its status changes, so live status sends each.

Since this version every status write of an execution also appends `{status, seq, at,
duration_ms}` to its `transitions`, in the same single-document update (`seq`: the run's version
of that change, the `run_seq` it stamps), and `GET /executions/runs/{id}/events` sends one event
per transition instead of one per execution in its latest state.

Forward gives every execution that has no `transitions` one: its current status at its
`run_seq`, at its last update, with its duration (what is known of its history; the service
reads an execution without the field the same way). Backward removes the field. Safe to re-run.
The field is left out of the validator (no `collMod` on every engine); it needs no new index:
live status finds an execution's transitions through the `run_seq` index.
"""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

VERSION = 11
NAME = "execution transitions"

EXECUTIONS = "test_executions"
ADDED_FIELDS = {EXECUTIONS: ("transitions",)}
"""Fields this migration adds, left out of the validator (no `collMod` on every engine)."""

_ONE_TRANSITION = [
    {
        "$set": {
            "transitions": [
                {
                    "status": "$status",
                    "seq": {"$max": [{"$ifNull": ["$run_seq", 1]}, 1]},
                    "at": {"$ifNull": ["$updated_at", "$created_at"]},
                    "duration_ms": {"$ifNull": ["$duration_ms", None]},
                }
            ]
        }
    }
]


async def forward(db: AsyncDatabase[Any]) -> None:
    await db[EXECUTIONS].update_many({"transitions": {"$exists": False}}, _ONE_TRANSITION)


async def backward(db: AsyncDatabase[Any]) -> None:
    await db[EXECUTIONS].update_many({}, {"$unset": {"transitions": ""}})
