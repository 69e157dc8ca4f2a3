"""Schema building blocks shared by every resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from beanie import PydanticObjectId
from bson import ObjectId
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictFloat,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def _object_id_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, ObjectId) else value


ObjectIdStr = Annotated[
    str,
    BeforeValidator(_object_id_to_str),
    Field(pattern=r"^[0-9a-f]{24}$", examples=["6650f1c2a7b4e3d2c1b0a998"]),
]
"""An ObjectId as the API shows it: 24 lowercase hex digits."""


def _hex_object_id(value: Any) -> Any:
    if value is None:  # PydanticObjectId would make a new id of it
        raise ValueError("expected an ObjectId (24 hexadecimal digits), got null")
    if isinstance(value, str) and not ObjectId.is_valid(value):
        raise ValueError(f"{value!r} is not an ObjectId (24 hexadecimal digits)")
    return value


ObjectIdInput = Annotated[
    PydanticObjectId,
    BeforeValidator(_hex_object_id),
    Field(examples=["6650f1c2a7b4e3d2c1b0a998"]),
]
"""An ObjectId sent by a client (body or path): 24 hex digits, stored as a BSON ObjectId."""


def _json_number(value: Any) -> Any:
    """JSON types, not Python's coercions: `true` and `"5"` are not integers."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("Input should be a valid integer")
    return value


def _json_date_time(value: Any) -> Any:
    """A date-time in a body is a string: a number would be read as a Unix time."""
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date-time string, e.g. 2026-01-31T09:00:00Z")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_json_date_time)]
"""A point in time in a request body: an ISO 8601 string, never a number."""

JsonInteger = BeforeValidator(_json_number)
"""Makes an `int` in a request body a JSON number with no fraction (`5` or `5.0`), nothing else.

Put it after the bounds, `Annotated[int, Field(ge=0, le=9), JsonInteger]`: in that order the
OpenAPI schema keeps `minimum`/`maximum` also where the field is optional."""
Number = StrictFloat
"""A number in a request body: a JSON number, never a numeric string."""
Flag = StrictBool
"""A boolean in a request body: `true` or `false`, never `1` or `"yes"`."""


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    """Base of response bodies. Validates from a Beanie document or a raw MongoDB document."""

    id: ObjectIdStr
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_mongo(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_id" in data:
            data = {"id": data["_id"], **{k: v for k, v in data.items() if k != "_id"}}
        return data

    @classmethod
    def of(cls, document: BaseModel) -> Self:
        """The response body for a Beanie document."""
        return cls.model_validate(document.model_dump(by_alias=True))


def unique_in_order[T](values: list[T]) -> list[T]:
    """The values without repeats, each kept where it first appears."""
    return list(dict.fromkeys(values))


MAX_NAME_LENGTH = 200
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, examples=["Chrome desktop"])]
# Spelt out rather than `\S`: regex engines disagree on which control characters are spaces, and
# the API (Rust regex) and its OpenAPI readers (ECMA regex) must accept exactly the same tags.
_TAG_CHAR = r"[^\s\x00-\x1f\x7f-\x9f\ufeff,"
Tag = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=rf"^{_TAG_CHAR}$]{_TAG_CHAR}]*$",
        examples=["smoke"],
    ),
]
"""A label on a test case or suite: no spaces, control characters or commas (lists of tags are
comma-separated), not starting with `$`."""


class UpdateModel(InputModel):
    """Base of PATCH bodies: every field optional; only the fields sent are changed.

    Sending `null` clears a field only where the resource allows it (`nullable_fields`); for any
    other field `null` is refused rather than stored. A nested object typed as an `UpdateModel`
    merges into the stored one (as in JSON Merge Patch); lists and other values replace.
    """

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document `null` only where it is accepted: the fields are optional, not nullable."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, prop in schema.get("properties", {}).items():
            if name in cls.nullable_fields or "anyOf" not in prop:
                continue
            kept = [option for option in prop["anyOf"] if option.get("type") != "null"]
            del prop["anyOf"]
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
            if prop.get("default", ...) is None:
                del prop["default"]
        return schema

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable_fields:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as `$set` paths (`viewport.width` for a nested merge).

        A field sent replaces the stored value with its complete dump: the defaults of what the
        client left out inside it (a list item's optional fields) are stored too, so every stored
        document has the shape the read models expect. Only a nested `UpdateModel` merges.
        """
        changes: dict[str, Any] = {}
        sent = [name for name in type(self).model_fields if name in self.model_fields_set]
        dumped = self.model_dump(include=set(sent))
        for name in sent:
            nested = getattr(self, name)
            if isinstance(nested, UpdateModel):
                changes.update({f"{name}.{path}": v for path, v in nested.changes().items()})
            else:
                changes[name] = dumped[name]
        return changes
