"""Schema building blocks shared by every resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from beanie import PydanticObjectId
from bson import ObjectId
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _object_id_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, ObjectId) else value


ObjectIdStr = Annotated[
    str,
    BeforeValidator(_object_id_to_str),
    Field(pattern=r"^[0-9a-f]{24}$", examples=["6650f1c2a7b4e3d2c1b0a998"]),
]
"""An ObjectId as the API shows it: 24 lowercase hex digits."""


def _hex_object_id(value: Any) -> Any:
    if isinstance(value, str) and not ObjectId.is_valid(value):
        raise ValueError(f"{value!r} is not an ObjectId (24 hexadecimal digits)")
    return value


ObjectIdInput = Annotated[
    PydanticObjectId,
    BeforeValidator(_hex_object_id),
    Field(examples=["6650f1c2a7b4e3d2c1b0a998"]),
]
"""An ObjectId sent by a client (body or path): 24 hex digits, stored as a BSON ObjectId."""


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


Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Chrome desktop"])]
Tag = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[^\s$][^\s]*$", examples=["smoke"])
]
"""A label on a test case or suite: no spaces, not starting with `$`."""


class UpdateModel(InputModel):
    """Base of PATCH bodies: every field optional; only the fields sent are changed.

    Sending `null` clears a field only where the resource allows it (`nullable_fields`); for any
    other field `null` is refused rather than stored. A nested object typed as an `UpdateModel`
    merges into the stored one (as in JSON Merge Patch); lists and other values replace.
    """

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

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
