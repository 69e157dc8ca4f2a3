"""Whether a request has sent a write to the database: what its failure may have left behind.

A request that fails because the database became unreachable (server selection timed out) did
not send the operation that failed, but a request of several writes (a run and its executions)
may have sent earlier ones. `TrackWrites` (ASGI middleware) gives every request a `WritesSent`;
`WriteListener`, a PyMongo command listener installed on the service's client, counts in it each
write command the request's task (or a task it started) sends. The 503's wording and the
`Idempotency-Key` of a failed request (freed for a retry only when nothing was written) read it.

Writes to `IGNORED` collections do not count: they are the bookkeeping of the request itself
(its idempotency claim), not its work.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from starlette.types import ASGIApp, Receive, Scope, Send

WRITE_COMMANDS = frozenset({"insert", "update", "delete", "findAndModify", "bulkWrite"})
"""The commands that write documents (`bulkWrite`: MongoDB 8's cross-collection bulk)."""
IGNORED = frozenset({"idempotency_keys"})
"""Collections whose writes are a request's bookkeeping, not its work."""


@dataclass(slots=True)
class WritesSent:
    """The write commands one request has sent (mutable: shared with the tasks it starts)."""

    count: int = 0


_current: ContextVar[WritesSent | None] = ContextVar("writes_sent", default=None)


def current() -> WritesSent | None:
    """This request's writes, or `None` outside a request (a CLI command, a test's own writes)."""
    return _current.get()


def sent_any() -> bool:
    """Whether this request has sent a write command (False outside a request)."""
    writes = _current.get()
    return writes is not None and writes.count > 0


class WriteListener(CommandListener):
    """Counts the write commands sent within a request (a no-op outside one)."""

    def started(self, event: CommandStartedEvent) -> None:
        writes = _current.get()
        if writes is None or event.command_name not in WRITE_COMMANDS:
            return
        if event.command.get(event.command_name) in IGNORED:
            return
        writes.count += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None


class TrackWrites:
    """ASGI middleware: a fresh `WritesSent` for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(WritesSent())
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
