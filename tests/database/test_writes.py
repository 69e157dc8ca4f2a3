"""What a failed request may have left behind: the writes it sent, counted per request (the
tests' `db` comes from a client made as the service makes it, with its write listener)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ServerSelectionTimeoutError

from api.database import writes
from api.errors import DatabaseUnavailable, nothing_written

UNREACHABLE = ServerSelectionTimeoutError("No servers found yet")


async def in_a_request(work: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """Run `work` as a request's handler would (inside `TrackWrites`); what it then saw."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await work()
        seen["sent_any"] = writes.sent_any()
        seen["nothing_written"] = nothing_written(UNREACHABLE)
        seen["detail"] = DatabaseUnavailable.of(UNREACHABLE, method="POST").detail

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    await writes.TrackWrites(app)({"type": "http"}, receive, send)
    return seen


async def test_a_request_that_wrote_before_the_database_went_away_may_have_written(
    db: AsyncDatabase[Any],
) -> None:
    async def write_then_fail() -> None:
        await db["scratch"].insert_one({"name": "nightly"})

    seen = await in_a_request(write_then_fail)

    assert seen["sent_any"] is True
    assert seen["nothing_written"] is False  # its Idempotency-Key is kept: outcome unknown
    assert "had sent part of its writes" in seen["detail"]
    assert "read before sending the request again" in seen["detail"]


async def test_reads_and_bookkeeping_are_not_writes(db: AsyncDatabase[Any]) -> None:
    async def read_and_claim() -> None:
        await db["scratch"].find_one({})
        await db["idempotency_keys"].update_one({"_id": "no such claim"}, {"$set": {"n": 1}})

    seen = await in_a_request(read_and_claim)

    assert seen["sent_any"] is False
    assert seen["nothing_written"] is True  # the key is freed: a retry runs again
    assert seen["detail"].endswith("(the write that needed it was not sent)")


async def test_each_request_counts_its_own_writes(db: AsyncDatabase[Any]) -> None:
    async def write() -> None:
        await db["scratch"].update_one({}, {"$set": {"n": 1}}, upsert=True)

    async def nothing() -> None:
        return None

    assert (await in_a_request(write))["sent_any"] is True
    assert (await in_a_request(nothing))["sent_any"] is False
    await db["scratch"].insert_one({"outside": "a request"})  # counted nowhere
    assert writes.current() is None
