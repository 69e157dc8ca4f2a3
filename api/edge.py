"""The app's edge: what every request meets before a route sees it.

- `BodySizeLimit` refuses a body over `JBTS_MAX_BODY_BYTES` with a 413 while it streams in: a
  declared `Content-Length` over the limit before anything is read, a chunked body as soon as the
  bytes received pass the limit. A path that takes files has a limit of its own
  (`JBTS_MAX_IMPORT_BYTES` for JUnit imports, `JBTS_MAX_SCREENSHOT_BYTES` for screenshots),
  larger or smaller. Nothing is parsed or buffered here, so a large body never sits in memory,
  and a refused request never reaches a route (nothing is written).
- CORS for the origins in `JBTS_CORS_ORIGINS` (none by default: CORS off).

`add_edge_middleware` installs both; CORS is the outermost layer, so every answer of the app,
a 413 included, carries the CORS headers an allowed origin needs to read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_TYPE_BASE, PayloadTooLarge, Problem, problem_response
from api.settings import Settings

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_REQUEST_HEADERS = (
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "Authorization",
    "X-API-Key",
)
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "WWW-Authenticate",
)


def add_edge_middleware(
    app: FastAPI, settings: Settings, *, path_limits: Mapping[str, int] | None = None
) -> None:
    """The body limit (`path_limits`: the limit of these exact paths instead), then CORS around
    it. Call last in `create_app`: CORS must be outermost."""
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, path_limits=path_limits or {}
    )
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )


class _BodyTooLarge(Exception):
    """Raised into whatever reads the body, to stop it at the first chunk past the limit."""


class BodySizeLimit:
    """A pure ASGI middleware: 413 for a request body larger than `max_bytes`, or than the
    path's own limit in `path_limits`."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes=max_bytes)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                # What the app answers to an interrupted read (a 400, a 500) is replaced by the 413.
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await self._refuse(scope, receive, send, max_bytes=max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, *, max_bytes: int) -> None:
        problem = PayloadTooLarge(
            f"the request body is larger than the limit of {max_bytes} bytes"
        ).to_problem(scope["path"])
        # Closing the connection spares the server reading (and discarding) the rest of the body.
        response = problem_response(problem, headers={"Connection": "close"})
        await response(scope, receive, send)


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem, like every other error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == HTTPStatus.OK:
            return response
        status = HTTPStatus(response.status_code)
        problem = Problem(
            type=PROBLEM_TYPE_BASE + "cors-preflight-refused",
            title=status.phrase,
            status=status,
            # e.g. "Disallowed CORS origin, headers": which parts of the request are not allowed.
            detail=bytes(response.body).decode(),
        )
        kept = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        return problem_response(problem, headers=kept)
