"""Server-Sent Events (the `text/event-stream` format of the HTML standard): framing and response.

A frame is `event:`, `id:` and one `data:` line of compact JSON, ended by a blank line; a line
starting with `:` is a comment (a heartbeat that keeps proxies from closing an idle stream);
`retry:` tells a browser's `EventSource` how many milliseconds to wait before reconnecting, which
it then does with a `Last-Event-ID` header naming the last `id:` it received.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE = ": keep-alive\n\n"
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx (and proxies that follow it) would otherwise buffer the stream.
    "X-Accel-Buffering": "no",
}


def event_frame(event: str, id: str, data: BaseModel) -> str:
    """One event; the JSON is on one line (JSON escapes every newline inside strings)."""
    return f"event: {event}\nid: {id}\ndata: {data.model_dump_json()}\n\n"


def retry_frame(milliseconds: int) -> str:
    return f"retry: {milliseconds}\n\n"


class EventStreamResponse(StreamingResponse):
    """A streamed `text/event-stream` response whose body iterator is always closed when the
    response ends, however it ends (finished, client gone, server stopping), so whatever the
    iterator holds open (a change stream's cursor) is released at once, not when it is collected.

    Starlette cancels the body while it waits for the database, but a client that goes away while
    a frame is being sent leaves the iterator suspended at its `yield`.
    """

    media_type = EVENT_STREAM

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                # Shielded: the close completes even when this task is being cancelled.
                await asyncio.shield(close())
