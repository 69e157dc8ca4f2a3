"""`IdempotentRoute`: the route class that gives every POST operation an `Idempotency-Key` header.

A route class rather than an ASGI middleware: its handler wrapper runs inside FastAPI's exception
handling, so its own errors and the route's are rendered by the app's problem+json handlers, and it
sees the route's rendered response (status, body, headers) to store.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from pymongo.errors import DocumentTooLarge, PyMongoError

from api.auth.guard import authorize, declared_guard
from api.errors import InvalidInput, nothing_written, problem_responses
from api.idempotency import service as idempotency_service
from api.idempotency.service import Claim, Replay
from documents.idempotency import StoredResponse

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_KEY_PATTERN = "^[!-~]+$"  # visible ASCII: no spaces, no control or non-ASCII characters
_KEY = re.compile(_KEY_PATTERN)
# What a replay repeats besides status and body; the rest (Date, Content-Length) is per response.
_REPLAYED_HEADERS = ("content-type", "location", "etag")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=_KEY_PATTERN,
            description="Makes a retry safe: the same key with the same request (method, path, "
            "query and body) within 24 h answers the first 2xx response again, with "
            f"`{REPLAYED_HEADER}: true`, without writing again. The same key with a different "
            "request is a 422; while the first request runs, 409 "
            "(`/problems/idempotency-key-in-use`) with `Retry-After`. A request known to have "
            "written nothing (a 4xx, or a 503 saying its write was not sent) does not keep the "
            "key. One whose outcome is unknown (its database connection broke mid-write, or it "
            "was interrupted) is never run again under the key: a retry gets 409 "
            "`/problems/idempotency-outcome-unknown`; read the resource to see whether it was "
            "applied, and use a new key if it was not. Up to 255 visible ASCII characters, e.g. "
            "a UUID.",
            examples=["5f1d7a9e-2c43-4b8e-9a1f-0c6e2d7b3a54"],
        ),
    ] = None,
) -> None:
    """Documents the header; `IdempotentRoute` acts on it before the route runs."""


_IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = problem_responses(409, 422)
_IDEMPOTENCY_RESPONSES[409]["description"] = (
    "With an Idempotency-Key: its first request is still running "
    "(`/problems/idempotency-key-in-use`, with `Retry-After`), or ended without a known outcome "
    "(`/problems/idempotency-outcome-unknown`: read the resource, and use a new key if the first "
    "request was not applied)"
)
_IDEMPOTENCY_RESPONSES[409]["headers"] = {
    "Retry-After": {
        "description": "With an Idempotency-Key whose first request is still running: seconds "
        "to wait before retrying.",
        "schema": {"type": "integer"},
    }
}


_REPLAYED_RESPONSE: dict[str, Any] = {
    "headers": {
        REPLAYED_HEADER: {
            "description": "`true` when this is the stored answer to an earlier request with the "
            "same Idempotency-Key: nothing was written again.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    }
}


def _with_idempotency_responses(
    responses: dict[int | str, dict[str, Any]] | None, *, success: int
) -> dict[int | str, dict[str, Any]]:
    """The route's documented responses plus the key's 409 (with `Retry-After`) and 422, and the
    `Idempotent-Replayed` header of its success response; a route's own description of a status
    is kept, followed by the key's."""
    merged = dict(responses or {})
    for status, documented in {**_IDEMPOTENCY_RESPONSES, success: _REPLAYED_RESPONSE}.items():
        existing = merged.get(status, {})
        headers = {**documented.get("headers", {}), **existing.get("headers", {})}
        described = dict.fromkeys(
            text for text in (existing.get("description"), documented.get("description")) if text
        )
        merged[status] = {**documented, **existing}
        if headers:
            merged[status]["headers"] = headers
        if described:
            merged[status]["description"] = ". ".join(described)
    return merged


def _key(request: Request) -> str | None:
    values = request.headers.getlist(IDEMPOTENCY_KEY_HEADER)
    if not values:
        return None
    location = f"header.{IDEMPOTENCY_KEY_HEADER}"
    if len(values) > 1:
        raise InvalidInput.at(location, f"send one {IDEMPOTENCY_KEY_HEADER} header, not several")
    [key] = values
    if not 1 <= len(key) <= MAX_KEY_LENGTH or _KEY.match(key) is None:
        raise InvalidInput.at(
            location,
            f"an {IDEMPOTENCY_KEY_HEADER} is 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "(no spaces)",
        )
    return key


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        headers={**stored.headers, REPLAYED_HEADER: "true"},
    )


def _storable(response: Response) -> StoredResponse | None:
    """The response as a replay will send it; `None` unless it is a 2xx with its body in hand,
    not marked `Cache-Control: no-store`."""
    body = getattr(response, "body", None)
    if not 200 <= response.status_code < 300 or not isinstance(body, bytes):
        return None
    if "no-store" in response.headers.get("cache-control", ""):
        # It holds what must be kept nowhere (a new API key's secret): a retry runs again.
        return None
    headers = {
        name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
    }
    return StoredResponse(status_code=response.status_code, headers=headers, body=body)


@asynccontextmanager
async def _renewing(claim: Claim) -> AsyncIterator[None]:
    """Keep the claim's lease alive while the request runs (a slow bulk may take minutes)."""

    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(idempotency_service.RENEW_EVERY.total_seconds())
            try:
                await idempotency_service.renew(claim=claim)
            except PyMongoError:
                logger.warning("could not renew the lease of an idempotency key", exc_info=True)

    renewal = asyncio.create_task(renew_forever())
    try:
        yield
    finally:
        renewal.cancel()
        with suppress(asyncio.CancelledError):
            await renewal


async def _settle(claim: Claim, response: Response) -> None:
    """Store a 2xx response for replays, or release the key so a retry runs again.

    The request's work is done either way, so a database error here is logged, not reported: a
    write must never answer failure for what it committed. A response too large to keep (over
    MongoDB's 16 MiB document limit) abandons the claim: a retry is told to read, not run twice.
    A claim left unsettled lapses with its lease, which a retry reads the same way.
    """
    stored = _storable(response)
    try:
        if stored is None:
            await idempotency_service.release(claim=claim)
            return
        try:
            await idempotency_service.complete(claim=claim, response=stored)
        except DocumentTooLarge:
            await idempotency_service.abandon(claim=claim)
    except PyMongoError:
        logger.warning("could not settle an idempotency key", exc_info=True)


async def _end_quietly(claim: Claim, error: Exception) -> None:
    """Release the key of a request known to have written nothing, so a retry runs again;
    abandon it otherwise. If the database is down this fails: the lease lapses, which a retry
    reads as an unknown outcome (never as a free key)."""
    try:
        if nothing_written(error):
            await idempotency_service.release(claim=claim)
        else:
            await idempotency_service.abandon(claim=claim)
    except PyMongoError:
        logger.warning("could not end the claim of an idempotency key", exc_info=True)


def _idempotent(handler: Handler, route: APIRoute) -> Handler:
    async def idempotent_handler(request: Request) -> Response:
        if (guard := declared_guard(route.dependencies)) is not None:
            # Before the key is looked at: a stored answer is only replayed to a caller that may
            # make the request (the guard dependency then finds the caller known).
            await authorize(request, guard.domain)
        key = _key(request)
        if key is None:
            return await handler(request)
        fingerprint = idempotency_service.request_fingerprint(
            method=request.method,
            path=request.url.path,
            query=request.scope.get("query_string", b""),
            body=await request.body(),  # cached on the request: the route reads it again
        )
        # Raises the key's 422 or 409 (with `Retry-After`): the app's problem handlers answer.
        outcome = await idempotency_service.claim(
            key=key, fingerprint=fingerprint, method=request.method, path=request.url.path
        )
        if isinstance(outcome, Replay):
            return _replay(outcome.response)
        try:
            async with _renewing(outcome):
                response = await handler(request)
        except Exception as error:
            # A refused request frees the key for a retry; one that may have written (a
            # connection that broke mid-write) keeps it, as outcome unknown. A cancelled request
            # (BaseException) keeps its claim as it is: once its lease lapses, the same.
            await _end_quietly(outcome, error)
            raise
        await _settle(outcome, response)
        return response

    return idempotent_handler


class IdempotentRoute(APIRoute):
    """An `APIRoute` whose POST operations honour (and document) an `Idempotency-Key` header.

    Other methods are untouched: PUT, PATCH and DELETE are idempotent or conditional (`If-Match`).
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: set[str] | list[str] | None = None,
        dependencies: Sequence[DependsParam] | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None,
        status_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        if methods is not None and "POST" in {method.upper() for method in methods}:
            dependencies = [*(dependencies or ()), Depends(idempotency_key_header)]
            responses = _with_idempotency_responses(responses, success=status_code or 200)
        super().__init__(
            path,
            endpoint,
            methods=methods,
            dependencies=dependencies,
            responses=responses,
            status_code=status_code,
            **kwargs,
        )

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        return _idempotent(handler, self) if "POST" in (self.methods or ()) else handler
