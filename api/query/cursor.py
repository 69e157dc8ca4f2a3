"""Opaque keyset cursors: where the next page of a sorted list starts.

A cursor names the last item of a page by its sort value and `_id`, and the sort it was made
for: `sort_by` and `order`. It travels as URL-safe base64 (unpadded) of an HMAC-SHA256 tag
(truncated to `TAG_BYTES`) followed by a compact JSON payload

    ["started_at", "asc", ["d", 1767225600000000], ["o", "6650a1b2c3d4e5f6a7b8c9d0"]]

whose values are typed (`TAGS`: a BSON date, an integer, a string, ... or null), so that a date
stays a date and an ObjectId an ObjectId when the cursor comes back as a query operand.

The tag protects the cursor's integrity, not its secrecy (the payload is readable by anyone who
decodes it): a character changed, a cursor cut short, garbage, or a cursor made for another sort
is refused as a 422 instead of paging from somewhere unintended. Its key is the `cursor_secret`
setting (`JBTS_CURSOR_SECRET`), which the app installs with `use_secret` when it starts; the
default is the public `DEFAULT_CURSOR_SECRET`, so the payload is validated strictly after the
tag as well: a cursor signed by anyone is still only typed operands.

`keyset_filter` is the condition "after this item" for MongoDB's sort order: null (or missing)
before every value ascending, after every value descending; ties broken by `_id` in the same
direction. Comparison operators only compare values of one BSON type (type bracketing), so a sort
field holds values of one type (numbers count as one), or null.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING

from api.errors import InvalidInput
from api.query.sorting import SortOrder, SortSpec
from api.settings import DEFAULT_CURSOR_SECRET
from documents.base import as_utc

TAG_BYTES = 16
MAX_CURSOR_LENGTH = 4096
"""The longest cursor accepted (and made): room for a sort value of about 2,900 bytes."""

CURSOR_LOCATION = "query.cursor"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT64 = range(-(2**63), 2**63)
_ORDERS = frozenset(order.value for order in SortOrder)

type SortValue = datetime | int | float | str | bool | ObjectId | None
"""What a cursor can hold as a sort value or an `_id`."""

TAGS = {"d": "date", "i": "integer", "f": "float", "s": "string", "b": "boolean", "o": "ObjectId"}

_secret = DEFAULT_CURSOR_SECRET.encode()


def use_secret(secret: str) -> str:
    """Sign and check cursors with `secret` from now on; returns the secret used until now."""
    global _secret
    previous = _secret.decode()
    _secret = secret.encode()
    return previous


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last item of a page (its sort value and `_id`) under the sort it was listed in."""

    sort_by: str
    order: SortOrder
    value: SortValue
    id: SortValue


def _encode_value(value: SortValue) -> list[Any] | None:
    # bool before int: a bool is an int to Python, not to MongoDB.
    match value:
        case None:
            return None
        case bool():
            return ["b", value]
        case int():
            return ["i", value]
        case float():
            return ["f", value.hex()]  # exact, and inf/nan survive (JSON has neither)
        case str():
            return ["s", value]
        case datetime():
            return ["d", (as_utc(value) - _EPOCH) // _MICROSECOND]  # naive BSON is UTC
        case ObjectId():
            return ["o", str(value)]
    raise TypeError(f"a cursor cannot hold a {type(value).__name__} sort value")


def _decode_value(raw: Any) -> SortValue:
    """The typed value of a payload entry; ValueError for anything `_encode_value` never makes."""
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)):
        raise ValueError("a value is not a [type, value] pair")
    tag, value = raw
    kind = type(value)  # exactly: JSON true is not an integer here
    if tag == "b" and kind is bool:
        return bool(value)
    if tag == "i" and kind is int and value in _INT64:
        return int(value)
    if tag == "f" and kind is str:
        return float.fromhex(value)
    if tag == "s" and kind is str:
        return str(value)
    if tag == "d" and kind is int:
        return _EPOCH + int(value) * _MICROSECOND  # OverflowError outside datetime's years
    if tag == "o" and kind is str and ObjectId.is_valid(value):
        return ObjectId(value)
    raise ValueError(f"not a valid {TAGS.get(tag, 'typed')} value")


def _tag(payload: bytes) -> bytes:
    return hmac.new(_secret, payload, hashlib.sha256).digest()[:TAG_BYTES]


def encode_cursor(cursor: Cursor) -> str:
    """The opaque cursor for `cursor`, signed with the current secret."""
    payload = json.dumps(
        [cursor.sort_by, cursor.order.value, _encode_value(cursor.value), _encode_value(cursor.id)],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    token = base64.urlsafe_b64encode(_tag(payload) + payload).rstrip(b"=").decode()
    if len(token) > MAX_CURSOR_LENGTH:
        raise ValueError(f"a cursor of {len(token)} characters is over {MAX_CURSOR_LENGTH}")
    return token


def _invalid(reason: str) -> InvalidInput:
    return InvalidInput.at(
        CURSOR_LOCATION,
        f"invalid cursor ({reason}): pass `next_cursor` from the previous page unchanged, "
        "or leave `cursor` out to start from the first page",
    )


def decode_cursor(token: str) -> Cursor:
    """The cursor `encode_cursor` made, or InvalidInput (422 at `query.cursor`)."""
    if not _BASE64URL.fullmatch(token):
        raise _invalid("not URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise _invalid("not URL-safe base64") from None
    # One spelling per cursor: base64's unused trailing bits must not make a second one.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        raise _invalid("not URL-safe base64")
    tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
    if len(tag) < TAG_BYTES or not hmac.compare_digest(tag, _tag(payload)):
        raise _invalid("it was altered, cut short, or not made by this service")
    try:
        content = json.loads(payload)
        if not (isinstance(content, list) and len(content) == 4):
            raise ValueError("not a four-part cursor")
        sort_by, order, value, last_id = content
        if not isinstance(sort_by, str) or order not in _ORDERS:
            raise ValueError("no sort")
        return Cursor(sort_by, SortOrder(order), _decode_value(value), _decode_value(last_id))
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise _invalid("its content is not a cursor") from None


def keyset_filter(sort: SortSpec, *, value: SortValue, last_id: SortValue) -> dict[str, Any]:
    """The items after (`value`, `last_id`) in `sort` (a `sort_spec`: a field, then `_id`).

    Ascending, nulls first:
      after a value: `{f: {$gte: v}, $or: [{f: {$gt: v}}, {_id: {$gt: id}}]}` (a range on f);
      after null:    `{$or: [{f: null, _id: {$gt: id}}, {f: {$ne: null}}]}` (the other nulls,
                     then every value).
    Descending, nulls last:
      after a value: `{$or: [{f: {$lt: v}}, {f: v, _id: {$lt: id}}, {f: null}]}`;
      after null:    `{f: null, _id: {$lt: id}}` (only nulls are left).
    `{f: null}` matches a missing field too, which MongoDB sorts as null.
    """
    (path, direction), *_ = sort
    ascending = direction == ASCENDING
    beyond = "$gt" if ascending else "$lt"
    if path == "_id":
        return {"_id": {beyond: last_id}}
    if ascending and value is None:
        return {"$or": [{path: None, "_id": {"$gt": last_id}}, {path: {"$ne": None}}]}
    if ascending:
        return {path: {"$gte": value}, "$or": [{path: {"$gt": value}}, {"_id": {"$gt": last_id}}]}
    if value is None:
        return {path: None, "_id": {"$lt": last_id}}
    return {"$or": [{path: {"$lt": value}}, {path: value, "_id": {"$lt": last_id}}, {path: None}]}
