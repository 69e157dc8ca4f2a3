"""Conditional requests on versioned resources: the `ETag` of a response, and `If-None-Match`.

`If-Match` (writes) is `api.deps.IfMatchDep`, applied in the write's filter by `api.query.crud`;
here is the read side: every single-resource response carries the version as its `ETag`, and a
`GET` whose `If-None-Match` names it answers 304 without a body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response, status

from api.deps import etag
from documents.base import VersionedDocument

IfNoneMatchDep = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description='The `ETag`s the client holds, e.g. `"3"`, or `*`: 304 without a body when '
        "the resource's current `ETag` is one of them.",
    ),
]

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    status.HTTP_304_NOT_MODIFIED: {
        "description": "Not Modified: the `ETag` named in `If-None-Match` is current (no body).",
        "headers": {"ETag": {"description": "The current version.", "schema": {"type": "string"}}},
    }
}
"""OpenAPI `responses=` entry of a GET that honours `If-None-Match`."""


def _matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110 weak comparison: `W/"3"` matches `"3"`; `*` matches any current resource."""
    if if_none_match.strip() == "*":
        return True
    return any(
        candidate.strip().removeprefix("W/") == tag for candidate in if_none_match.split(",")
    )


def tagged(document: VersionedDocument, response: Response) -> None:
    """Give a single-resource response the document's version as its `ETag`."""
    response.headers["ETag"] = etag(document.current_version)


def not_modified(document: VersionedDocument, if_none_match: str | None) -> Response | None:
    """The 304 answer when the client already holds the current version, else `None`."""
    tag = etag(document.current_version)
    if if_none_match is None or not _matches(if_none_match, tag):
        return None
    return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
