"""Shared dependencies, as `Annotated` aliases routes can declare directly."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from pydantic import WithJsonSchema
from starlette.convertors import Convertor, register_url_convertor

from api.database.capabilities import Capabilities
from api.database.connection import Database
from api.errors import WRITE_METHODS, InvalidInput, UnsupportedMediaType
from api.schemas import ObjectIdInput
from api.settings import Settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_capabilities(database: DatabaseDep) -> Capabilities:
    return await database.capabilities()


CapabilitiesDep = Annotated[Capabilities, Depends(get_capabilities)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


RESERVED_SEGMENTS = ("bulk", "order", "runs", "import", "analytics", "export")
"""Fixed path segments beside an `{id}` (`/tests/bulk`, `/tests/{id}/steps/order`)."""


class ItemConvertor(Convertor[str]):
    """A path segment naming an item: any segment except a fixed sibling such as `bulk`.

    So `PATCH /tests/bulk` is a 405 (only `POST` exists there), not a PATCH of a case whose id is
    "bulk"; a malformed id still reaches its route and is a 422 that says what is wrong.
    """

    regex = "(?!(?:" + "|".join(RESERVED_SEGMENTS) + ")(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("item", ItemConvertor())

ObjectIdPath = Annotated[
    ObjectIdInput,
    Path(
        description="A 24-hex-digit ObjectId.",
        examples=["6650f1c2a7b4e3d2c1b0a998"],
        json_schema_extra={"pattern": "^[0-9a-fA-F]{24}$"},
    ),
]


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def require_json_body(request: Request) -> None:
    """415 for a write whose body is not JSON (instead of a confusing validation error)."""
    if request.method not in WRITE_METHODS:
        return
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    content_type = request.headers.get("content-type", "")
    if has_body and not _is_json(content_type):
        shown = content_type or "no Content-Type"
        raise UnsupportedMediaType(f"expected an application/json body, got {shown}")


_VERSION_TAG = re.compile(r'"[0-9]{1,18}"')


def _entity_tag_versions(value: str) -> frozenset[int] | None:
    """The versions an `If-Match` header accepts: `None` for `*`, else those of its strong tags."""
    if value.strip() == "*":
        return None
    versions: set[int] = set()
    for tag in value.split(","):
        tag = tag.strip()
        # ASCII digits that fit a stored (64-bit) version; any other tag matches no version.
        if _VERSION_TAG.fullmatch(tag):
            versions.add(int(tag[1:-1]))
    return frozenset(versions)


_ENTITY_TAG = r'(W/)?"[^"\x00-\x20\x7f]*"'
ENTITY_TAGS_PATTERN = rf"^[ \t]*(\*|{_ENTITY_TAG}([ \t]*,[ \t]*{_ENTITY_TAG})*)[ \t]*$"
"""`*` or a comma-separated list of entity tags (RFC 9110): anything else is a 422."""
_ENTITY_TAGS = re.compile(ENTITY_TAGS_PATTERN)


def if_match_versions(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='Only change the resource if its current `ETag` is one of these, e.g. `"3"`'
            " (412 otherwise).",
            max_length=1000,
        ),
        # A header is a string when sent: documented without `null`, with the accepted syntax.
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": 1000,
                "pattern": ENTITY_TAGS_PATTERN,
                "examples": ['"3"'],
            }
        ),
    ] = None,
) -> frozenset[int] | None:
    if if_match is not None and not _ENTITY_TAGS.match(if_match):
        raise InvalidInput.at(
            "header.If-Match", 'expected "*" or entity tags in double quotes, e.g. "3"'
        )
    return None if if_match is None else _entity_tag_versions(if_match)


IfMatchDep = Annotated[frozenset[int] | None, Depends(if_match_versions)]
"""The versions a conditional write may apply to; `None` when the client set no condition."""


def etag(version: int) -> str:
    """A resource's entity tag: its version, as a strong ETag."""
    return f'"{version}"'
