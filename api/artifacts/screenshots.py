"""`/artifacts/screenshots`: screenshots uploaded by runners, their metadata and their bytes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from api.artifacts import screenshot_service as service
from api.artifacts.images import ImageType
from api.artifacts.screenshot_schemas import (
    MAX_FILENAME_LENGTH,
    ScreenshotForm,
    ScreenshotListParams,
    ScreenshotRead,
)
from api.auth.guard import Domain, requires
from api.conditional import _matches
from api.deps import ObjectIdPath, SettingsDep
from api.errors import (
    InvalidInput,
    ProblemError,
    ProblemFieldError,
    UnsupportedMediaType,
    problem_responses,
)
from api.idempotency.routes import IdempotentRoute
from api.query import CursorPage
from api.query.fields import partial_model

SCREENSHOTS_PATH = "/artifacts/screenshots"
"""Where screenshots are uploaded (below `/api/v1`): its body limit follows
`JBTS_MAX_SCREENSHOT_BYTES`."""
MULTIPART = "multipart/form-data"
MULTIPART_OVERHEAD = 64 * 1024
"""What a multipart body may add to the file (boundaries, part headers, the other fields)."""
READ_CHUNK = 256 * 1024
CACHE_CONTROL = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

router = APIRouter(
    route_class=IdempotentRoute,
    prefix=SCREENSHOTS_PATH,
    tags=["artifacts"],
    dependencies=[requires(Domain.RESULTS)],
    responses=problem_responses(422),
)

ScreenshotItem = partial_model(ScreenshotRead)


class RangeNotSatisfiable(ProblemError):
    status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
    slug = "range-not-satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail)
        self.size = size

    def headers(self) -> dict[str, str] | None:
        return {"Content-Range": f"bytes */{self.size}"}


def _read(screenshot: Any) -> ScreenshotRead:
    return ScreenshotRead.of(screenshot)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The image: PNG, JPEG or WebP (read from its bytes).",
                        },
                        "execution_id": {
                            "type": "string",
                            "pattern": "^[0-9a-fA-F]{24}$",
                            "description": "The execution the screenshot belongs to.",
                        },
                        "step_id": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 64,
                            "description": "A step of that execution: the screenshot is then "
                            "listed in that step's `screenshot_ids`.",
                        },
                        "taken_at": {
                            "type": "string",
                            "format": "date-time",
                            "description": "When it was taken (default: now).",
                        },
                    },
                    "required": ["file", "execution_id"],
                    "additionalProperties": False,
                },
                "example": {
                    "file": "(the image's bytes)",
                    "execution_id": "6650f1c2a7b4e3d2c1b0a999",
                    "step_id": "a1b2c3d4e5f6",
                    "taken_at": "2026-11-30T09:00:02Z",
                },
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problem_responses(413, 415),
        413: {
            **problem_responses(413)[413],
            "description": "The file is larger than `JBTS_MAX_SCREENSHOT_BYTES` (10 MiB by "
            "default): nothing is stored.",
        },
        415: {
            **problem_responses(415)[415],
            "description": "The file is not a PNG, JPEG or WebP image, or the body is not "
            "multipart/form-data: nothing is stored.",
        },
    },
    openapi_extra=_UPLOAD_BODY,
)
async def upload_screenshot(
    request: Request, response: Response, settings: SettingsDep
) -> ScreenshotRead:
    """Upload a screenshot of an execution (multipart: `file`, `execution_id`, optional
    `step_id` and `taken_at`).

    The bytes are streamed into GridFS and hashed (SHA-256) on the way; identical bytes are
    stored once (the new metadata points to the existing file). The type is read from the bytes
    (PNG, JPEG, WebP; anything else is a 415), and width and height from the image header. An
    unknown execution, or a `step_id` that is not one of its steps, is a 422.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != MULTIPART:
        raise UnsupportedMediaType(
            f"expected multipart/form-data with a `file` field; got {content_type or 'nothing'}"
        )
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            fields = {name: value for name, value in form.items() if name != "file"}
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput.at("body.file", "send the image as the file field `file`")
            texts = {name: value for name, value in fields.items() if isinstance(value, str)}
            try:
                data = ScreenshotForm.model_validate(texts)
            except ValidationError as exc:
                raise InvalidInput.listing(
                    [
                        ProblemFieldError(
                            location=".".join(["body", *map(str, error["loc"])]),
                            message=error["msg"],
                        )
                        for error in exc.errors()
                    ]
                ) from exc
            filename = (upload.filename or "").strip()[-MAX_FILENAME_LENGTH:] or None
            screenshot = await service.create_screenshot(
                execution_id=data.execution_id,
                step_id=data.step_id,
                taken_at=data.taken_at,
                filename=filename,
                chunks=_chunks(upload),
                max_bytes=settings.max_screenshot_bytes,
            )
    except HTTPException as exc:  # a malformed multipart body
        raise InvalidInput.at("body", f"the multipart body cannot be read: {exc.detail}") from exc
    response.headers["Location"] = request.url_for("get_screenshot", id=str(screenshot.id)).path
    return _read(screenshot)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    """The uploaded file a chunk at a time (Starlette keeps a large upload on disk)."""
    while chunk := await upload.read(READ_CHUNK):
        yield chunk


@router.get("", response_model_exclude_unset=True)
async def list_screenshots(
    params: Annotated[ScreenshotListParams, Query()],
) -> CursorPage[ScreenshotItem]:  # type: ignore[valid-type]
    """List screenshots' metadata, filtered by execution, run or step, by `taken_at`; paged by
    `page` or by `cursor` (the `next_cursor` of the previous page)."""
    raw = await service.list_screenshots(params=params)
    return raw.to_cursor_page(ScreenshotItem)


@router.get("/{id:item}", responses=problem_responses(404))
async def get_screenshot(id: ObjectIdPath) -> ScreenshotRead:
    """A screenshot's metadata."""
    return _read(await service.get_screenshot(id=id))


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image's bytes, streamed.",
        "content": {kind.value: _BINARY for kind in ImageType},
        "headers": {
            "ETag": {
                "description": 'The SHA-256 of the bytes, `"<hex>"`.',
                "schema": {"type": "string"},
            },
            "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
        },
    },
    206: {
        "description": "The requested byte range (`Content-Range` says which).",
        "content": {kind.value: _BINARY for kind in ImageType},
    },
    304: {"description": "Not Modified: the `ETag` in `If-None-Match` is this image's (no body)."},
    **problem_responses(404, 416),
}


@router.get("/{id:item}/content", response_class=Response, responses=_CONTENT_RESPONSES)
async def get_screenshot_content(
    id: ObjectIdPath,
    if_none_match: Annotated[
        str | None,
        Header(alias="If-None-Match", description='`"<sha256>"` (or `*`): 304 if it matches.'),
    ] = None,
    range_: Annotated[
        str | None,
        Header(
            alias="Range",
            description="One byte range, `bytes=first-last`, `bytes=first-` or `bytes=-count`: "
            "206 with those bytes (416 where the image has none of them).",
        ),
    ] = None,
) -> Response:
    """The screenshot's bytes, streamed, with its media type. The `ETag` is the SHA-256 of the
    bytes, which never change (`Cache-Control: immutable`)."""
    screenshot = await service.get_screenshot(id=id)
    tag = f'"{screenshot.sha256}"'
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Accept-Ranges": "bytes"}
    if if_none_match is not None and _matches(if_none_match, tag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    size = screenshot.size
    span = _range(range_, size) if range_ else None
    if span is None:
        content = await service.open_content(screenshot=screenshot)
        code = status.HTTP_200_OK
    else:
        start, end = span
        content = await service.open_content(
            screenshot=screenshot, start=start, length=end - start + 1
        )
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    headers["Content-Length"] = str(content.length)
    return StreamingResponse(
        content.chunks(), status_code=code, media_type=screenshot.content_type, headers=headers
    )


def _range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single `bytes=` range; None to answer the whole image (a
    header this does not understand, or several ranges); 416 where none of it exists."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last `count` bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable("the range asks for no bytes", size=size)
        return max(size - count, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"the image has {size} bytes: none from byte {start}", size=size)
    return start, min(end, size - 1)


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_screenshot(id: ObjectIdPath) -> None:
    """Delete a screenshot: its metadata, its place in its step's `screenshot_ids`, and its bytes
    once no other screenshot shares them."""
    await service.delete_screenshot(id=id)
